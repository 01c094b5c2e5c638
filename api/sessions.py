"""Page sign-in: login CSRF protection and failed sign-ins rate-limited. The sessions
themselves — a random id in an HttpOnly cookie, kept by its digest with its token's — are the
store's (`catalog.store.sessions`, `Store.page_sessions`).

Login CSRF: the sign-in form carries a random value that is also set as a cookie
(double submit), and a POST whose `Origin` is another site, or whose `Sec-Fetch-Site` says
cross-site, is refused — so another site cannot sign a visitor in to an account of its choosing.

Failed sign-ins are counted per client (and logged); past `MAX_FAILURES` within `WINDOW`
seconds that client is answered 429 with `Retry-After` without looking at the token.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import deque

from .lru import MISSING, BoundedLRU

__all__ = ["SignInLimiter", "same_value"]

log = logging.getLogger("onething.api")


class SignInLimiter:
    """Failed sign-ins per client: counted, logged, and past `max_failures` within `window`
    seconds refused until the oldest failure ages out. Remembers at most `clients` clients."""

    def __init__(self, max_failures: int = 10, window: float = 300.0, clients: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clients = clients
        self.failures = 0
        """Failed sign-ins since start (all clients)."""
        self._seen: BoundedLRU[str, deque[float]] = BoundedLRU(clients)
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._seen.get(client)
        if times is MISSING:
            times = deque()
            self._seen.put(client, times)
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int | None:
        """Seconds this client must wait before trying again; None when it may try now."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.max_failures:
                return None
            return max(1, int(times[0] + self.window - now) + 1)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            times.append(now)
            self.failures += 1
            count = len(times)
        if count >= self.max_failures:
            log.warning(
                "failed sign-in from %s (%d in %g s): refusing its sign-ins for a while",
                client,
                count,
                self.window,
            )
        else:
            log.warning("failed sign-in from %s (%d in %g s)", client, count, self.window)


def same_value(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())  # type: ignore[union-attr]
