"""The heads (newest catalog version, bundles revision) as this instance knows them, kept current
without a database round trip per request.

A watcher thread reads the two counters when told they moved and, as a fallback, every `poll`
seconds (0.5 by default):

- PostgreSQL: it LISTENs on `CHANNEL`. A trigger on the state table (created here, at start,
  if missing) NOTIFYs it from the very transaction that moves a counter — a publish, a bundle
  save — so the notification arrives when that transaction commits, never before. With
  notifications off (`listen=False`), or while the LISTEN connection is down, the poll alone.
- SQLite (one machine, one file): the poll alone.

This process's own writes are seen at once: every pooled connection this process returns
(`checkin`, after its transaction has ended) marks the heads unknown, and the next request
reads them (one probe) — a client reads what it has just written through this instance. A
connection marked `HEADS_KEPT` (the cases' writes, which never move the heads) does not.
A request otherwise reads `Heads.known()`: an attribute, no I/O.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from catalog.store.engine import HEADS_KEPT

if TYPE_CHECKING:
    from catalog.store import Store

log = logging.getLogger("onething.api")

CHANNEL = "onething_heads"
TRIGGER = "onething_heads_notify"


class Heads:
    """What `api.view.Views` asks instead of the database on every request (see the module's text)."""

    def __init__(self, store: Store, *, poll: float = 0.5, listen: bool = True):
        from catalog.store.schema import StateRow

        self.store = store
        self.poll = poll
        self.postgres = not store.url.startswith("sqlite")
        self.listen = listen and self.postgres
        self.table = StateRow.__tablename__
        self._heads: tuple[int, int] | None = None
        self._ticks = itertools.count(1)
        self._written = 0
        """The tick of this process's last returned connection; the heads are known only as of
        a read that started after it."""
        self._read_at = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = threading.Lock()
        self._merging = threading.Lock()
        self.reads = 0
        """How many times the watcher read the counters (for tests: a request reads none)."""
        self.notified = 0
        """Notifications received."""
        event.listen(store.engine, "checkin", self._checked_in)

    # -- what requests ask -----------------------------------------------------------------------
    def known(self) -> tuple[int, int] | None:
        """The heads, or None while they must be read (at start, after this process wrote)."""
        if self._thread is None:
            self.start()
        if self._read_at < self._written:
            return None
        return self._heads

    def tick(self) -> int:
        """Call before reading the heads yourself; hand the result to `saw`."""
        return self._written

    def saw(self, heads: tuple[int, int], tick: int) -> tuple[int, int]:
        """Heads read by a request (after `tick()`): the newer of them and the watcher's."""
        self._merge(heads)
        self._read_at = max(self._read_at, tick)
        return self._heads or heads

    def _merge(self, heads: tuple[int, int]) -> None:
        """Never step back: a read that started before another may end after it."""
        with self._merging:
            known = self._heads
            self._heads = heads if known is None else (max(known[0], heads[0]), max(known[1], heads[1]))

    def _checked_in(self, _dbapi_conn: Any, record: Any) -> None:
        if not record.info.pop(HEADS_KEPT, False):
            self._written = next(self._ticks)

    # -- the watcher -----------------------------------------------------------------------------
    def start(self) -> None:
        with self._started:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="onething-heads", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.poll + 5)
        event.remove(self.store.engine, "checkin", self._checked_in)

    def _watch(self) -> None:
        failing = False
        while not self._stop.is_set():
            raw: Any = None
            try:
                raw = self._connect()
                conn = raw if self.postgres else raw.driver_connection
                listening = self.listen and self._listen(conn)
                if failing:
                    log.info("the heads watcher reads the database again")
                    failing = False
                while not self._stop.is_set():
                    self._read(conn)
                    if listening:
                        self._await_notification(conn)
                    else:
                        self._stop.wait(self.poll)
            except Exception as exc:  # noqa: BLE001 - the watcher outlives an outage: it tries again
                if not failing:  # info: the requests that need the database log the outage
                    log.info(
                        "the heads watcher cannot read the database (%s); serving version %s until it can",
                        exc,
                        (self._heads or (0, 0))[0],
                    )
                    failing = True
                self._stop.wait(self.poll)
            finally:
                if raw is not None:
                    try:
                        raw.close() if self.postgres else raw.invalidate()
                    except Exception:
                        log.debug("closing the heads watcher's connection failed", exc_info=True)

    def _connect(self) -> Any:
        """PostgreSQL: a plain psycopg connection of its own, not the store's guarded ones — a
        LISTEN waits for as long as nothing happens, which the store's connections would count
        as a hung server. Its waits are bounded by TCP keepalives and `tcp_user_timeout`.
        SQLite: a connection of the store's pool, held."""
        if not self.postgres:
            return self.store.engine.raw_connection()
        import psycopg

        url = self.store.engine.url.set(drivername="postgresql")
        return psycopg.connect(
            url.render_as_string(hide_password=False),
            autocommit=True,
            connect_timeout=max(2, round(self.store.limits.connect)),
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=2,
            keepalives_count=3,
            tcp_user_timeout=int((self.store.limits.statement + 2) * 1000),
        )

    def _await_notification(self, conn: Any) -> None:
        """Until a notification, `poll` seconds, or `stop()` (looked at every second)."""
        deadline = time.monotonic() + self.poll
        while not self._stop.is_set() and (left := deadline - time.monotonic()) > 0:
            for _ in conn.notifies(timeout=min(left, 1.0), stop_after=1):
                self.notified += 1
                return

    def _read(self, conn: Any) -> None:
        tick = self._written
        cursor = conn.cursor()
        try:
            cursor.execute(f"SELECT id, counter FROM {self.table}")
            rows = dict(cursor.fetchall())
        finally:
            cursor.close()
        if not self.postgres:
            conn.rollback()  # end the read transaction, so the next poll sees new commits
        self.reads += 1
        self._merge((int(rows.get(1, 0)), int(rows.get(2, 0))))
        self._read_at = max(self._read_at, tick)

    def _listen(self, conn: Any) -> bool:
        """LISTEN, after making sure the trigger exists; False (the poll alone) if it cannot be
        made (no privilege, or the table locked by a long publish: tried again on reconnect)."""
        try:
            if not self._has_trigger(conn):
                with conn.transaction():
                    conn.execute("SET LOCAL lock_timeout = '2s'")
                    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TRIGGER,))
                    if not self._has_trigger(conn):
                        conn.execute(
                            f"CREATE OR REPLACE FUNCTION {TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $$ "
                            f"BEGIN PERFORM pg_notify('{CHANNEL}', NEW.id || ':' || NEW.counter); "
                            "RETURN NULL; END $$"
                        )
                        conn.execute(
                            f"CREATE TRIGGER {TRIGGER} AFTER UPDATE ON {self.table} "
                            f"FOR EACH ROW EXECUTE FUNCTION {TRIGGER}()"
                        )
        except Exception:
            log.warning(
                "no notification trigger on the state table: reading the heads every %s s",
                self.poll,
                exc_info=True,
            )
            return False
        conn.execute(f"LISTEN {CHANNEL}")
        return True

    def _has_trigger(self, conn: Any) -> bool:
        found = conn.execute(
            "SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = %s::regclass", (TRIGGER, self.table)
        ).fetchone()
        return found is not None
