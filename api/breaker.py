"""A circuit breaker: stop calling a dependency that is down, try it again now and then.

closed ──(`failures` in a row)──▶ open ──(`reset_after` s)──▶ half-open ──(the one trial call)──▶
closed when it worked, open again when it did not. While open (and while the trial is out) the
caller is told not to call at all, so a dead or hung dependency costs nothing per request. Each
change of state is logged once; individual failures are not.

Used from one event loop (one per worker), so it holds no lock.
"""

from __future__ import annotations

import logging
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
    ) -> None:
        self.name = name
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
        now = self.clock()
        if self.state == OPEN and now - self.opened_at >= self.reset_after:
            self.trial_at = now
            self._change(HALF_OPEN, "trying it again")
            return True
        if self.state == HALF_OPEN and now - self.trial_at >= self.reset_after:
            self.trial_at = now  # the trial never came back: another one
            return True
        return False

    def success(self) -> None:
        self.failures = 0
        if self.state != CLOSED:
            self._change(CLOSED, "it answers again")

    def failure(self, exc: BaseException) -> None:
        self.failures += 1
        if self.state == HALF_OPEN or (self.state == CLOSED and self.failures >= self.threshold):
            self.opened_at = self.clock()
            reason = f"{type(exc).__name__}: {str(exc)[:200]}" if str(exc) else type(exc).__name__
            self._change(OPEN, f"{reason}; not calling it for {self.reset_after:g} s")

    def _change(self, state: str, why: str) -> None:
        self.state = state
        self.changes += 1
        level = logging.INFO if state == CLOSED else logging.WARNING
        log.log(level, "%s circuit %s: %s", self.name, state, why)
