"""The transactional outbox of §7.2's push: the store's side.

`OutboxWriter` is a `CaseStore` listener: inside the very transaction that creates a case's tasks
or changes a task's state it writes one row per task changed — task id, `seq` (1, 2, … per task),
the agency's USCC and the body. So a task committed has its message committed with it; a process
that dies after the commit leaves the row unsent, and the next relay run sends it.

The body is `PushedTask`: the task as the agency's queue shows it (`casework.model.QueuedTask`:
the task, its case id, the materials its requirements are met by) plus `seq` — **without the
form**. Form values and the applicant are personal data (§7.5): sealed in the store, every read
audited, erased by `onething cases purge`. A message on the stream could be neither audited per
reader nor erased, so none goes on the wire: the stream carries no personal data, and an agency's
system reads the form of a task it was told about through the pull API
(`GET /agencies/{uscc}/tasks`, audited). Every task created is written (a later stage's as
`waiting`), so a task's `seq` on the wire has no gap.

`Outbox` is what a relay (`api.relay`) uses: `claim(limit)` hands out unsent rows, at most one per
task (the one with the smallest `pk`, which is its smallest `seq`: a task's later change waits for
the earlier one to be sent), and `sent(pks)` marks them once the broker acknowledged them.

- PostgreSQL: `claim` is a transaction holding the rows with `FOR UPDATE SKIP LOCKED` while they
  are published and marked, so several relays (instances) share the rows without sending one
  twice, and a task's messages go out in `seq` order.
- SQLite: one writer at a time, so `claim` only reads (no write lock is held while publishing,
  which would stall hand-ins); two relays on one SQLite file may both send a row — JetStream's
  duplicate window drops the second (same `Nats-Msg-Id`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from casework import CaseRecord, TaskRecord
from casework.machine import task_overdue
from casework.model import QueuedTask

from .schema import OutboxRow

__all__ = ["Claimed", "Outbox", "OutboxWriter", "PushedTask", "message_id"]


class PushedTask(QueuedTask, kw_only=True, omit_defaults=True):
    """A task's message: the task as the queue shows it (no `form`), plus its change number."""

    seq: int = 0


_encoder = msgspec.json.Encoder()
_INSERT = sa.insert(OutboxRow).inline()
"""No RETURNING of the new key: the hand-in sends these rows with its COMMIT (psycopg pipeline)."""


def message_id(task_id: str, seq: int) -> str:
    """The NATS message id (`Nats-Msg-Id`) JetStream drops a second copy by."""
    return f"{task_id}:{seq}"


def pushed(record: TaskRecord, today: date) -> PushedTask:
    task = record.task
    values = {f: getattr(task, f) for f in task.__struct_fields__}
    values["overdue"] = task_overdue(task, today)
    return PushedTask(**values, case=record.case, materials=record.materials, seq=record.seq)


class OutboxWriter:
    """The `CaseStore` listener that writes the outbox rows (in the caller's transaction)."""

    def __init__(self, clock: Callable[[], date]):
        self.clock = clock

    def __call__(self, conn: Connection, case: CaseRecord, tasks: list[TaskRecord]) -> None:
        today = self.clock()
        now = datetime.now(UTC)
        conn.execute(
            _INSERT,
            [
                {
                    "task_id": t.task.id,
                    "seq": t.seq,
                    "agency": t.task.agency,
                    "body": _encoder.encode(pushed(t, today)).decode(),
                    "made_at": now,
                    "sent_at": None,
                }
                for t in tasks
            ],
        )


@dataclass(frozen=True)
class Message:
    pk: int
    task_id: str
    seq: int
    agency: str
    body: bytes


@dataclass
class Claimed:
    """Rows handed to one relay; `sent` the pks the broker acknowledged."""

    messages: list[Message]
    sent: list[int] = field(default_factory=list)


class Outbox:
    """The relay's side of the outbox table."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.locking = engine.dialect.name == "postgresql"

    def _query(self, limit: int) -> sa.Select:
        o = OutboxRow.__table__.alias("o")
        p = OutboxRow.__table__.alias("p")
        earlier = (
            sa.select(sa.literal(1))
            .where(p.c.task_id == o.c.task_id, p.c.sent_at.is_(None), p.c.pk < o.c.pk)
            .exists()
        )
        query = (
            sa.select(o.c.pk, o.c.task_id, o.c.seq, o.c.agency, o.c.body)
            .where(o.c.sent_at.is_(None), ~earlier)
            .order_by(o.c.pk)
            .limit(limit)
        )
        if self.locking:
            query = query.with_for_update(skip_locked=True, of=o)
        return query

    @contextmanager
    def claim(self, limit: int = 256) -> Iterator[Claimed]:
        """Unsent rows (at most one per task, oldest first); those put in `.sent` are marked sent
        when the block ends — also when it ends by an exception (a broker that failed halfway)."""
        if self.locking:
            with self.engine.connect() as conn:
                tx = conn.begin()
                claimed = Claimed(_messages(conn.execute(self._query(limit))))
                try:
                    yield claimed
                finally:  # the marks commit even when the block failed halfway
                    _mark(conn, claimed.sent)
                    tx.commit()
        else:
            with self.engine.connect() as conn:
                claimed = Claimed(_messages(conn.execute(self._query(limit))))
            try:
                yield claimed
            finally:
                if claimed.sent:
                    with self.engine.begin() as conn:
                        _mark(conn, claimed.sent)

    def unsent(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(OutboxRow).where(OutboxRow.sent_at.is_(None))
            ).scalar_one()

    def prune(self, keep: timedelta) -> int:
        """Delete the rows sent more than `keep` ago; returns how many."""
        with self.engine.begin() as conn:
            return conn.execute(
                sa.delete(OutboxRow).where(OutboxRow.sent_at < datetime.now(UTC) - keep)
            ).rowcount


def _messages(rows: Iterable[sa.Row]) -> list[Message]:
    return [Message(pk=r[0], task_id=r[1], seq=r[2], agency=r[3], body=r[4].encode()) for r in rows]


def _mark(conn: Connection, pks: list[int]) -> None:
    if pks:
        conn.execute(sa.update(OutboxRow).where(OutboxRow.pk.in_(pks)).values(sent_at=datetime.now(UTC)))
