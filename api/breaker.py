"""A circuit breaker: stop calling a dependency that is down, try it again now and then.

closed ──(`failures` in a row)──▶ open ──(`reset_after` s)──▶ half-open ──(the one trial call)──▶
closed when it worked, open again when it did not. While open (and while the trial is out) the
caller is told not to call at all, so a dead or hung dependency costs nothing per request. An
outage is logged once, when the circuit opens (a warning), and its end once (info); the trials
between are debug lines, individual failures are not logged. `quiet`: the opening too is a debug
line, for a dependency whose outage someone else reports (the database's: `api.problems`).

The cache's is used from one event loop; the database's from the threads that call it: a lock
keeps the state consistent (held for microseconds, never while calling the dependency).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("onething.api")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failures: int = 3,
        reset_after: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        quiet: bool = False,
    ) -> None:
        self.name = name
        self.quiet = quiet
        self._lock = threading.Lock()
        self.since = 0.0
        """When the current outage began (the circuit opened from closed)."""
        self.threshold = failures
        self.reset_after = reset_after
        self.clock = clock
        self.state = CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.trial_at = 0.0
        self.changes = 0
        """How many times the state changed (each logged once)."""

    def allow(self) -> bool:
        """May the caller try the dependency now? (In half-open, only the one trial may.)"""
        if self.state == CLOSED:
            return True
        with self._lock:
            now = self.clock()
            if self.state == OPEN and now - self.opened_at >= self.reset_after:
                self.trial_at = now
                self._change(HALF_OPEN, "trying it again", logging.DEBUG)
                return True
            if self.state == HALF_OPEN and now - self.trial_at >= self.reset_after:
                self.trial_at = now  # the trial never came back: another one
                return True
            return self.state == CLOSED

    def success(self) -> None:
        if self.state == CLOSED and not self.failures:
            return
        with self._lock:
            self.failures = 0
            if self.state != CLOSED:
                level = logging.DEBUG if self.quiet else logging.INFO
                self._change(CLOSED, f"it answers again after {self.clock() - self.since:.1f} s", level)

    def failure(self, exc: BaseException) -> None:
        with self._lock:
            self.failures += 1
            if self.state == HALF_OPEN or (self.state == CLOSED and self.failures >= self.threshold):
                first = self.state == CLOSED
                self.opened_at = self.clock()
                reason = f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__
                if first:
                    self.since = self.opened_at
                level = logging.DEBUG if self.quiet or not first else logging.WARNING
                self._change(OPEN, f"{reason}; not calling it for {self.reset_after:g} s", level)

    def _change(self, state: str, why: str, level: int) -> None:
        self.state = state
        self.changes += 1
        log.log(level, "%s circuit %s: %s", self.name, state, why)
