"""Reads on PostgreSQL hot standbys, fenced by the version number.

Every read of the catalog names its version (`reads`), and a version's rows never change once
its publish has committed (a later publish closes rows from its own number on, never before),
so a database that has replayed that commit answers a read of version v exactly as the primary
does, and one that has not would answer with an older version. The version is the fence: a read
of v goes to a replica whose state row (`onething_state`, the newest catalog version, read on the
replica itself) is at least v. A replica's replayed version is remembered and asked again only
when a read wants a newer one; while none has v the replicas are asked every `POLL` seconds for
up to `wait` (200 ms by default), then the primary answers — and answers the later reads of v
at once while no replica has it (each still asks, at most once per `POLL`). Reads rotate over
the replicas that have the version; list the primary's own URL among them for it to take its
share.

Who asks which version: the API reads the version its view holds, and the view comes from the
primary's heads — asked on every request (`api.view.HeadsProbe`) — and never steps back, so a
request, on any instance, reads a version at least as new as any shown before it began. Should
the heads ever come from elsewhere (a notification that may arrive late), the request must bring
its floor: the newest version its client was shown, which the view then waits for from the
primary. Everything that is not a version's read — the heads, bundles, tokens, page sessions,
submissions, cases, the audit — changes in place and stays on the primary.

A replica that fails (cannot be reached, does not answer within the store's limits, cancels a
read) answers nothing for `retry` seconds: the primary does meanwhile. The read that met the
failure fails with it (a stream cannot be taken up again elsewhere).

A standby for this is an ordinary streaming one (`pg_basebackup -R`, `hot_standby = on`); with
`hot_standby_feedback = on` the primary's vacuum never removes rows a standby's read still needs,
so replay does not cancel reads (`bench/standby.py` makes one so).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from .limits import Limits
from .schema import CATALOG_ROW, StateRow

log = logging.getLogger("onething.store")

POLL = 0.01
"""Seconds between two questions to a replica behind the fence."""


class Replica:
    """One hot standby: its engine, the newest catalog version it is known to have replayed,
    and its own gate (`limits.Gate`): after a failure it rests `retry` seconds."""

    def __init__(self, url: str, limits: Limits, retry: float):
        from .engine import connect

        self.name = sa.make_url(url).render_as_string(hide_password=True)
        self.retry = retry
        self.replayed = 0
        self.reads = 0
        """Reads it answered: how a benchmark or a test sees where reads went."""
        self._counting = threading.Lock()
        self._resting_until = 0.0
        self._asked_at = 0.0
        self._asking = threading.Lock()
        self.engine = connect(url, echo=False, lock_timeout=0, limits=limits, gate=self)

    # -- the gate the engine's connections ask (`guarded`) ---------------------------------------
    def allow(self) -> bool:
        return time.monotonic() >= self._resting_until

    def success(self) -> None:
        if self._resting_until:
            self._resting_until = 0.0
            log.info("replica %s answers again", self.name)

    def failure(self, exc: BaseException) -> None:
        if self.allow():
            log.warning("replica %s failed (%s); the primary reads for %g s", self.name, exc, self.retry)
        self._resting_until = time.monotonic() + self.retry

    def answered(self) -> None:
        with self._counting:
            self.reads += 1

    # -- the fence -----------------------------------------------------------------------------
    def ask(self) -> int:
        """The version it has replayed now (one small read, at most one per POLL however many
        readers wait)."""
        if not self._asking.acquire(blocking=False):
            return self.replayed  # another reader is asking
        try:
            if time.monotonic() - self._asked_at >= POLL:
                with self.engine.connect() as conn:
                    query = sa.select(StateRow.counter).where(StateRow.id == CATALOG_ROW)
                    self.replayed = max(self.replayed, conn.execute(query).scalar() or 0)
                self._asked_at = time.monotonic()
        finally:
            self._asking.release()
        return self.replayed


class Replicas:
    """The read side of a store with hot standbys (see the module's text)."""

    def __init__(
        self, primary: Engine, urls: Sequence[str], *, limits: Limits, wait: float = 0.2, retry: float = 5.0
    ):
        self.primary = primary
        self.wait = wait
        self.replicas = [Replica(url, limits, retry) for url in urls]
        self._turn = itertools.count()
        self._waited_out = 0
        """The newest version a read waited `wait` for in vain: reads of it (or an older one)
        still ask the replicas, but no longer wait — a replica far behind costs each read one
        question, not `wait` seconds."""

    def choose(self, version: int) -> Replica | None:
        """A replica that has replayed `version`, waiting up to `wait` for one; None: the primary."""
        up = [r for r in self.replicas if r.allow()]
        ready = [r for r in up if r.replayed >= version]
        deadline = time.monotonic() + (0 if version <= self._waited_out else self.wait)
        while not ready and up:
            for replica in up:
                try:
                    if replica.ask() >= version:
                        ready.append(replica)
                except sa.exc.DBAPIError as exc:
                    replica.failure(exc)
            up = [r for r in up if r.allow()]
            if ready or time.monotonic() >= deadline:
                break
            time.sleep(POLL)
        if not ready:
            self._waited_out = max(self._waited_out, version)
            return None
        return ready[next(self._turn) % len(ready)]

    @contextmanager
    def connect(self, version: int) -> Iterator[Connection]:
        """A connection to a database that has `version`."""
        replica = self.choose(version)
        opened = None
        if replica is not None:
            try:
                opened = replica.engine.connect()
            except sa.exc.DBAPIError as exc:  # nothing read yet: the primary takes the read
                replica.failure(exc)
                replica = None
        with opened if opened is not None else self.primary.connect() as conn:
            try:
                yield conn
            except sa.exc.OperationalError as exc:
                if replica is not None:
                    replica.failure(exc)
                raise
        if replica is not None:
            replica.answered()

    def dispose(self) -> None:
        for replica in self.replicas:
            replica.engine.dispose()
