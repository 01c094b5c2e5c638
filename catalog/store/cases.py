"""Cases (§7) in the store: cases, tasks, events, ratings, rectifications, the official calendar's
added years, and the figures' counter rows — every rule in `casework`, every write one
transaction that also moves the counters (`case_figures`).

Personal data (the applicant and the form) is sealed with AES-GCM (`Sealer`, the case id as
associated data) and every read of it writes an audit line (`audit_event`, action
`case.personal`) in the reading transaction. The access secret is kept as its SHA-256 only.

Events on one case are ordered by a row lock on the case (`moves`), taken before anything is
read; an event's `key` is unique per task, and the same key again returns the first answer.

A hand-in's writes are one statement on PostgreSQL, its own transaction (one round trip; with
an outbox to write, sent with the outbox's and the COMMIT): its case's serial comes from a block
this process reserved before (`Serials`), and the figures' counters are upserts within it
(`case_figures.pg_upsert_ctes`); on SQLite one statement per counter table (`case_figures.add`).

`CaseStore.listeners`: functions called inside each writing transaction with the tasks whose
state changed (created ones included), each with its `seq` — where a transactional outbox
(NATS, §7.2 push) writes its rows; `CaseStore.committed`: functions called once such a
transaction has committed (the relay's wake-up, `api.relay`).
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from casework import (
    Applicant,
    CaseNotFound,
    CaseRecord,
    EventIn,
    HandIn,
    Plan,
    Rating,
    RatingIn,
    Rectification,
    Schedule,
    Task,
    TaskRecord,
    Unconfigured,
    WorkCalendar,
    apply,
    open_case,
)
from casework import machine as _machine
from casework import rating as _rating
from casework.calendar import schedule_decoder
from casework.model import FormValue

from . import case_figures
from .audit import audit
from .case_seal import Sealer, access_digest, new_access_code, write_key_file
from .engine import HEADS_KEPT
from .schema import (
    AuditRow,
    CalendarRow,
    CaseEventRow,
    CaseRow,
    CaseSerialRow,
    RatingRow,
    RectificationRow,
    TaskRow,
)

__all__ = [
    "CaseStore",
    "Created",
    "Loaded",
    "Personal",
    "Sealer",
    "access_digest",
    "rebuild_figures",
    "recount_figures",
    "write_key_file",
]

Listener = Callable[[Connection, CaseRecord, list[TaskRecord]], None]
_TOLD = "onething.cases.told"
_BATCH = "onething.cases.batch"

_case_decoder = msgspec.json.Decoder(CaseRecord)
_task_decoder = msgspec.json.Decoder(TaskRecord)
_answer_decoder = msgspec.json.Decoder(Task)
_encoder = msgspec.json.Encoder()


class Personal(msgspec.Struct, frozen=True):
    applicant: Applicant
    form: dict[str, FormValue]


_personal_decoder = msgspec.json.Decoder(Personal)


# -- what the store hands back --------------------------------------------------------------------


class Loaded(msgspec.Struct, kw_only=True):
    """A case as the rules need it."""

    case: CaseRecord
    tasks: list[TaskRecord]
    rating: Rating | None
    purged: bool = False


class Created(msgspec.Struct, kw_only=True):
    loaded: Loaded
    access: str


class CaseStore:
    """The cases of one store (`Store.cases`)."""

    def __init__(self, engine: sa.Engine, sealer: Sealer | None = None):
        self.engine = engine
        self.sealer = sealer
        self.serials = Serials(engine)
        self.listeners: list[Listener] = []
        self.committed: list[Callable[[], None]] = []
        """Called after a transaction that told the listeners has committed (a relay's wake-up)."""

    def _sealer(self) -> Sealer:
        if self.sealer is None:
            raise Unconfigured(
                "未配置办件数据加密密钥（ONETHING_CASE_KEY 或 ONETHING_CASE_KEY_FILE），不能受理办件。"
            )
        return self.sealer

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One transaction (`_batch` sends its last statements and the COMMIT together)."""
        with self.engine.connect() as conn, ExitStack() as after_commit:
            conn.info[HEADS_KEPT] = True  # a case's writes leave the catalog's heads where they are
            with conn.begin():
                conn.info[_BATCH] = after_commit
                conn.info.pop(_TOLD, None)
                yield conn
                told = conn.info.pop(_TOLD, False)
            conn.info.pop(_BATCH, None)
        if told:
            for hook in self.committed:
                hook()

    @contextmanager
    def _alone(self) -> Iterator[Connection]:
        """A PostgreSQL connection whose one statement is its own transaction (autocommit): no
        BEGIN or COMMIT of ours, one round trip, and none of psycopg's pipeline work."""
        with self.engine.connect() as conn:
            conn.info[HEADS_KEPT] = True
            raw: Any = conn.connection.driver_connection
            raw.autocommit = True
            try:
                yield conn
            finally:
                raw.autocommit = False

    def _tell(self, conn: Connection, case: CaseRecord, tasks: list[TaskRecord]) -> None:
        if tasks and self.listeners:
            for listener in self.listeners:
                listener(conn, case, tasks)
            conn.info[_TOLD] = True

    # -- hand-in ----------------------------------------------------------------------------------
    def create(
        self,
        hand_in: HandIn,
        plan: Plan,
        *,
        revision: int,
        today: date,
        calendar: WorkCalendar,
        by: str = "",
    ) -> Created:
        """A checked hand-in becomes a case with its tasks, in one transaction — on PostgreSQL,
        with no listener to tell, one statement that is its own (`_alone`)."""
        sealer = self._sealer()
        access = new_access_code()
        serial = self.serials.next(hand_in.region, today)  # before the transaction: see `Serials`
        case_id = f"{hand_in.region}-{today:%Y%m%d}-{serial:04d}"
        case, tasks = open_case(
            case_id,
            plan,
            region=hand_in.region,
            bundle=hand_in.bundle,
            revision=revision,
            channel=hand_in.channel,
            service_point=hand_in.service_point,
            today=today,
            calendar=calendar,
        )
        personal = _encoder.encode(Personal(applicant=hand_in.applicant, form=plan.form))
        line = _audit_line(by or "applicant", "case.create", case.id, channel=case.channel, tasks=len(tasks))

        def write(conn: Connection) -> None:
            _insert_hand_in(
                conn,
                case,
                tasks,
                access=access_digest(access),
                sealed=sealer.seal(personal, case.id),
                line=line,
                figures=case_figures.contributions(case, tasks, None),
            )

        if self.engine.dialect.name == "postgresql" and not self.listeners:
            with self._alone() as conn:
                write(conn)
        else:
            with self._write() as conn:
                _batch(conn)  # all of it is writes: sent with the COMMIT
                write(conn)
                self._tell(conn, case, tasks)
        return Created(loaded=Loaded(case=case, tasks=tasks, rating=None), access=access)

    # -- reading ----------------------------------------------------------------------------------
    def load(self, case_id: str) -> Loaded | None:
        with self.engine.connect() as conn:
            return _load(conn, case_id)

    def task(self, task_id: str) -> tuple[TaskRecord, CaseRecord] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(TaskRow.body, TaskRow.case_id).where(TaskRow.id == task_id)).first()
            if row is None:
                return None
            case = conn.execute(sa.select(CaseRow.body).where(CaseRow.id == row[1])).scalar_one()
            return _task_decoder.decode(row[0]), _case_decoder.decode(case)

    def access_matches(self, case_id: str, secret: str) -> bool:
        with self.engine.connect() as conn:
            held = conn.execute(sa.select(CaseRow.access).where(CaseRow.id == case_id)).scalar_one_or_none()
        return held is not None and hmac.compare_digest(held, access_digest(secret))

    def personal(
        self, wanted: Sequence[tuple[str, Sequence[str] | None]], *, by: str, role: str
    ) -> dict[str, Personal | None]:
        """The personal data of cases, each limited to the given fields (None: all of it, the
        applicant included); one audit line per case read, in the reading transaction. A purged
        case gives None (and no line: nothing was read)."""
        ids = sorted({case_id for case_id, _ in wanted})
        if not ids:
            return {}
        sealer = self._sealer()
        with self._write() as conn:
            sealed = dict(
                conn.execute(sa.select(CaseRow.id, CaseRow.sealed).where(CaseRow.id.in_(ids))).all()
            )
            return _opened(conn, sealer, sealed, wanted, by=by, role=role)

    def queue(
        self,
        agency: str,
        *,
        state: str | None,
        limit: int,
        after: int | None,
        by: str,
        role: str,
    ) -> tuple[list[TaskRecord], int | None, dict[str, Personal | None]]:
        """One page of an agency's tasks, oldest first, through (agency, state, pk); the cursor of
        the next page, or None; and each task's case's personal data limited to its item's
        fields (as `personal`, audited: one line per case read). One query, and the audit lines
        sent with the COMMIT."""
        query = (
            sa.select(TaskRow.pk, TaskRow.body, CaseRow.id, CaseRow.sealed)
            .join(CaseRow, CaseRow.id == TaskRow.case_id)
            .where(TaskRow.agency == agency)
        )
        if state is not None:
            query = query.where(TaskRow.state == state)
        if after is not None:
            query = query.where(TaskRow.pk > after)
        with self._write() as conn:
            rows = conn.execute(query.order_by(TaskRow.pk).limit(limit + 1)).all()
            more = len(rows) > limit
            rows = rows[:limit]
            records = [_task_decoder.decode(body) for _, body, _, _ in rows]
            if records:
                sealer = self._sealer()
                sealed = {case_id: blob for _, _, case_id, blob in rows}
                personal = _opened(
                    conn, sealer, sealed, [(r.case, r.fields) for r in records], by=by, role=role
                )
            else:
                personal = {}
        return records, rows[-1][0] if more else None, personal

    # -- events -----------------------------------------------------------------------------------
    def event(
        self, task_id: str, event: EventIn, *, by: str, today: date, calendar: WorkCalendar
    ) -> tuple[TaskRecord, CaseRecord, bool]:
        """The event applied (or, for a `key` seen before on this task, the first answer with
        nothing changed: the last item True). CaseNotFound, Transition, Refused change nothing."""
        with self._write() as conn:
            case_id = conn.execute(
                sa.select(TaskRow.case_id).where(TaskRow.id == task_id)
            ).scalar_one_or_none()
            if case_id is None:
                raise CaseNotFound("没有这个事项。")
            _lock(conn, case_id)
            prior = conn.execute(
                sa.select(CaseEventRow.answer).where(
                    CaseEventRow.task_id == task_id, CaseEventRow.key == event.key
                )
            ).scalar_one_or_none()
            loaded = _load(conn, case_id)
            assert loaded is not None
            if prior is not None:
                record = next(t for t in loaded.tasks if t.task.id == task_id)
                record.task = _answer_decoder.decode(prior)
                return record, loaded.case, True
            bodies = {t.task.id: _encoder.encode(t) for t in loaded.tasks}
            before = case_figures.contributions(loaded.case, loaded.tasks, loaded.rating)
            move = apply(loaded.case, loaded.tasks, task_id, event, today=today, calendar=calendar)
            after = case_figures.contributions(move.case, move.tasks, loaded.rating)
            case_figures.add(conn, after.minus(before))
            for t in move.tasks:
                body = _encoder.encode(t)
                if body != bodies[t.task.id]:
                    conn.execute(
                        sa.update(TaskRow).where(TaskRow.id == t.task.id).values(**_task_columns(t, body))
                    )
            _write_case(conn, move.case)
            conn.execute(
                sa.insert(CaseEventRow).values(
                    task_id=task_id,
                    key=event.key,
                    event=event.event,
                    at=datetime.now(UTC),
                    by=by,
                    note=event.note,
                    answer=_encoder.encode(move.task.task).decode(),
                )
            )
            changed = [t for t in move.tasks if t.task.id in move.changed]
            self._tell(conn, move.case, changed)
            return move.task, move.case, False

    def events(self, task_id: str) -> list[tuple[str, str, str, datetime]]:
        """(event, key, by, at) of a task's events, in order."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(CaseEventRow.event, CaseEventRow.key, CaseEventRow.by, CaseEventRow.at)
                .where(CaseEventRow.task_id == task_id)
                .order_by(CaseEventRow.pk)
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]

    # -- ratings and rectifications ---------------------------------------------------------------
    def rate(
        self, case_id: str, given: RatingIn, *, today: date, calendar: WorkCalendar
    ) -> tuple[Rating, list[Rectification]]:
        with self._write() as conn:
            _lock(conn, case_id)
            loaded = _load(conn, case_id)
            if loaded is None:
                raise CaseNotFound("没有这个办件。")
            rating, opened = _rating.rate(
                loaded.case,
                loaded.tasks,
                given,
                rated=loaded.rating is not None,
                today=today,
                calendar=calendar,
            )
            conn.execute(
                sa.insert(RatingRow).values(
                    case_id=case_id,
                    score=rating.score,
                    comment=rating.comment,
                    tasks=_encoder.encode(rating.tasks).decode(),
                    rated_on=today,
                )
            )
            before = case_figures.contributions(loaded.case, loaded.tasks, None)
            after = case_figures.contributions(loaded.case, loaded.tasks, rating)
            case_figures.add(conn, after.minus(before))
            made = []
            for o in opened:
                values = {
                    "case_id": case_id,
                    "task_id": o.task,
                    "agency": o.agency,
                    "region": loaded.case.region,
                    "bundle": loaded.case.bundle or "",
                    "item": o.item or "",
                    "day": loaded.case.handed_on,
                    "score": o.score,
                    "comment": given.comment,
                    "state": "open",
                    "opened_on": today,
                    "due": o.due,
                    "due_provisional": o.due_provisional,
                    "finding": None,
                    "action": None,
                }
                rid = conn.execute(
                    sa.insert(RectificationRow).values(**values).returning(RectificationRow.id)
                )
                made.append(_rectification({**values, "id": rid.scalar_one()}))
                case_figures.add_rectifications(conn, case_figures.rectified(values))
            return rating, made

    def rectification(self, rid: int) -> Rectification | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(RectificationRow.__table__).where(RectificationRow.id == rid)
            ).first()
            return None if row is None else _rectification(row._mapping)

    def move_rectification(
        self, rid: int, action: str, *, by: str, finding: str = "", action_text: str = ""
    ) -> Rectification:
        with self._write() as conn:
            row = conn.execute(
                sa.select(RectificationRow.__table__).where(RectificationRow.id == rid).with_for_update()
            ).first()
            if row is None:
                raise CaseNotFound("没有这条整改。")
            found = _rectification(row._mapping)
            _rating.move(found, action, finding=finding, action_text=action_text)
            before = case_figures.rectified(row._mapping)
            after = case_figures.rectified({**row._mapping, "state": found.state})
            case_figures.add_rectifications(conn, after.minus(before))
            conn.execute(
                sa.update(RectificationRow)
                .where(RectificationRow.id == rid)
                .values(state=found.state, finding=found.finding, action=found.action)
            )
            audit(conn, by, f"rectification.{action}", str(rid), case=found.case, state=found.state)
            return found

    def rectifications(
        self,
        *,
        state: str | None = None,
        region: str | None = None,
        agency: str | None = None,
        overdue: bool | None = None,
        today: date,
        limit: int = 500,
    ) -> list[Rectification]:
        query = rectification_query(
            state=state, region=region, agency=agency, overdue=overdue, today=today, limit=limit
        )
        with self.engine.connect() as conn:
            return [_rectification(row._mapping) for row in conn.execute(query)]

    # -- figures, purge -----------------------------------------------------------------------------
    def figures(self, *, today: date, **filters: Any) -> Any:
        with self.engine.connect() as conn:
            return case_figures.figures(conn, today=today, **filters)

    def purge(self, before: date, *, by: str, today: date) -> int:
        """Erase the personal data of cases that are not open and ended before `before`; the
        figures stay as they are."""
        with self._write() as conn:
            count = conn.execute(
                sa.update(CaseRow)
                .where(CaseRow.state != "open", CaseRow.ended_on < before, CaseRow.sealed.is_not(None))
                .values(sealed=None, purged_on=today)
            ).rowcount
            audit(conn, by, "case.purge", f"before {before.isoformat()}", cases=count)
            return count

    # -- the calendar's added years -----------------------------------------------------------------
    def schedules(self) -> list[Schedule]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(CalendarRow.body).order_by(CalendarRow.year))
            return [schedule_decoder.decode(body) for (body,) in rows]

    def add_schedule(self, schedule: Schedule, *, by: str) -> None:
        body = _encoder.encode(schedule).decode()
        with self._write() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            stmt = dialect.insert(CalendarRow).values(
                year=schedule.year, body=body, added_at=datetime.now(UTC), by=by
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["year"],
                    set_={
                        "body": stmt.excluded.body,
                        "added_at": stmt.excluded.added_at,
                        "by": stmt.excluded.by,
                    },
                )
            )
            audit(
                conn,
                by,
                "calendar.add",
                str(schedule.year),
                holidays=len(schedule.holidays),
                workdays=len(schedule.workdays),
            )

    def recount(self, calendar: WorkCalendar) -> int:
        """Count provisional due dates again on `calendar` (a year's schedule arrived): cases,
        tasks and rectifications; the figures move with them. Returns how many dates moved."""
        moved = 0
        with self.engine.connect() as conn:
            case_ids = set(conn.execute(sa.select(CaseRow.id).where(CaseRow.due_provisional)).scalars())
            case_ids |= set(conn.execute(sa.select(TaskRow.case_id).where(TaskRow.due_provisional)).scalars())
        for case_id in sorted(case_ids):
            with self._write() as conn:
                _lock(conn, case_id)
                loaded = _load(conn, case_id)
                if loaded is None:
                    continue
                before = case_figures.contributions(loaded.case, loaded.tasks, loaded.rating)
                case = loaded.case
                if case.due_provisional:
                    due, provisional = calendar.add_days(case.handed_on, case.days)
                    moved += due != case.due
                    case.due, case.due_provisional = due, provisional
                    _write_case(conn, case)
                for t in loaded.tasks:
                    if t.task.due_provisional:
                        moved += _machine.recount(t, calendar)
                        body = _encoder.encode(t)
                        conn.execute(
                            sa.update(TaskRow).where(TaskRow.id == t.task.id).values(**_task_columns(t, body))
                        )
                after = case_figures.contributions(case, loaded.tasks, loaded.rating)
                case_figures.add(conn, after.minus(before))
        with self._write() as conn:
            rows = conn.execute(
                sa.select(RectificationRow.__table__).where(RectificationRow.due_provisional)
            ).all()
            for row in rows:
                due, provisional = calendar.add_days(row.opened_on, _rating.RECTIFY_DAYS)
                moved += due != row.due
                conn.execute(
                    sa.update(RectificationRow)
                    .where(RectificationRow.id == row.id)
                    .values(due=due, due_provisional=provisional)
                )
                after = case_figures.rectified({**row._mapping, "due": due})
                case_figures.add_rectifications(conn, after.minus(case_figures.rectified(row._mapping)))
        return moved


# -- rows ------------------------------------------------------------------------------------------


def rectification_query(
    *,
    state: str | None,
    region: str | None,
    agency: str | None,
    overdue: bool | None,
    today: date,
    limit: int,
) -> sa.Select[Any]:
    """The rectifications of the lists (§7.3), oldest first: a region's subtree as a range of
    codes, which `ix_rect_region` answers (for LIKE PostgreSQL reads the whole table: a b-tree
    serves it only under the C collation or with pattern operators)."""
    r = RectificationRow
    query = sa.select(r.__table__).where(*case_figures.within(r.region, region))
    if state is not None:
        query = query.where(r.state == state)
    if agency is not None:
        query = query.where(r.agency == agency)
    late = sa.and_(r.state != "closed", r.due < today)
    if overdue is True:
        query = query.where(late)
    elif overdue is False:
        query = query.where(sa.not_(late))
    return query.order_by(r.id).limit(limit)


_INSERT_AUDIT = sa.insert(AuditRow).inline()
"""Built once (compiled once per engine, SQLAlchemy's cache); `inline`: no RETURNING of the new
key, which no caller reads (and a statement sent by `_batch` could not)."""

_CASE_COLUMNS = tuple(c.name for c in CaseRow.__table__.columns)
_TASK_COLUMNS = ("id", "case_id", "agency", "state", "due", "due_provisional", "body")
_AUDIT_COLUMNS = ("at", "by", "action", "target", "detail")


def _names(columns: Iterable[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _pg_hand_in() -> str:
    """A hand-in's case, tasks, audit line and figures' counters as one statement: the tasks one
    JSON array (one parameter, encoded by msgspec; inserted in its order, which their keys keep),
    the audit line, the tasks and the counters' upserts (`case_figures.pg_upsert_ctes`) as
    data-modifying CTEs of the case's INSERT."""
    dialect = postgresql.dialect()
    task_t = TaskRow.__table__
    fields = ", ".join(
        f"(r.v->>{i})::{task_t.c[c].type.compile(dialect=dialect)}" for i, c in enumerate(_TASK_COLUMNS)
    )
    return (
        f"WITH t AS (INSERT INTO {TaskRow.__tablename__} ({_names(_TASK_COLUMNS)}) SELECT {fields} "
        "FROM json_array_elements(%(tasks)s::json) WITH ORDINALITY AS r(v, n) ORDER BY r.n), "
        f"a AS (INSERT INTO {AuditRow.__tablename__} ({_names(_AUDIT_COLUMNS)}) "
        f"VALUES ({', '.join(f'%({c})s' for c in _AUDIT_COLUMNS)})), "
        f"{', '.join(case_figures.pg_upsert_ctes('figures'))} "
        f"INSERT INTO {CaseRow.__tablename__} ({_names(_CASE_COLUMNS)}) "
        f"VALUES ({', '.join(f'%(case_{c})s' for c in _CASE_COLUMNS)})"
    )


def _sqlite_insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({_names(columns)}) VALUES ({', '.join('?' * len(columns))})"


_PG_HAND_IN = _pg_hand_in()
_SQLITE_CASE = _sqlite_insert(CaseRow.__tablename__, _CASE_COLUMNS)
_SQLITE_TASK = _sqlite_insert(TaskRow.__tablename__, _TASK_COLUMNS)
_SQLITE_AUDIT = _sqlite_insert(AuditRow.__tablename__, _AUDIT_COLUMNS)
_sqlite_at: Any = sqlite.DATETIME().bind_processor(sqlite.dialect())
"""SQLAlchemy's text of a datetime on SQLite (what the audit's other writers store)."""


def _insert_hand_in(
    conn: Connection,
    case: CaseRecord,
    tasks: list[TaskRecord],
    *,
    access: str,
    sealed: bytes,
    line: dict[str, Any],
    figures: case_figures.Contribution,
) -> None:
    """A new case's row, its tasks', its audit line and what it adds to the figures' counters,
    through the driver's cursor (a hand-in is the API's hottest write: SQLAlchemy's and psycopg's
    per-statement work was most of its cost) — on PostgreSQL one statement (`_PG_HAND_IN`,
    prepared once by psycopg), on SQLite three and `case_figures.add`'s."""
    case_row = (
        case.id,
        case.region,
        case.bundle,
        case.state,
        case.handed_on,
        case.due,
        case.due_provisional,
        None,
        access,
        _encoder.encode(case).decode(),
        sealed,
        None,
        0,
    )
    task_rows = [
        (
            t.task.id,
            t.case,
            t.task.agency,
            t.task.state,
            t.task.due,
            t.task.due_provisional,
            _encoder.encode(t).decode(),
        )
        for t in tasks
    ]
    raw: Any = conn.connection.driver_connection
    cursor = raw.cursor()
    try:
        if conn.dialect.name == "postgresql":
            params = {f"case_{c}": v for c, v in zip(_CASE_COLUMNS, case_row, strict=True)}
            params["tasks"] = _encoder.encode(task_rows).decode()
            params.update(line)
            params.update(case_figures.pg_rows(figures, "figures"))
            cursor.execute(_PG_HAND_IN, params)
        else:
            cursor.execute(_SQLITE_CASE, _sqlite_row(case_row))
            cursor.executemany(_SQLITE_TASK, [_sqlite_row(r) for r in task_rows])
            cursor.execute(_SQLITE_AUDIT, (_sqlite_at(line["at"]), *(line[c] for c in _AUDIT_COLUMNS[1:])))
    finally:
        cursor.close()
    if conn.dialect.name != "postgresql":
        case_figures.add(conn, figures)


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Dates as SQLAlchemy stores them on SQLite (ISO text)."""
    return tuple(v.isoformat() if isinstance(v, date) else v for v in row)


def _serial_upsert(dialect: Any) -> Any:
    stmt = dialect.insert(CaseSerialRow).values(
        region=sa.bindparam("region"), day=sa.bindparam("day"), counter=sa.bindparam("size")
    )
    return stmt.on_conflict_do_update(
        index_elements=["region", "day"], set_={"counter": CaseSerialRow.counter + stmt.excluded.counter}
    ).returning(CaseSerialRow.counter)


_RESERVE = {"postgresql": _serial_upsert(postgresql), "sqlite": _serial_upsert(sqlite)}


class Serials:
    """A case's serial within its region and hand-in day, handed out from blocks this process
    reserves in the store (`case_serial`), so that a hand-in does not wait for a round trip of
    its own to number its case. A block is reserved in a transaction of its own and committed
    at once: serials are unique across processes and instances (blocks never overlap) whatever
    becomes of the hand-ins. The blocks double from 1 up to MOST for a region and day, so a
    quiet county's ids stay dense (0001, 0002, …) and a busy one reserves once per MOST cases;
    a serial is lost when its hand-in fails or the process ends (gaps, never repeats).

    `next` is called outside any transaction: on SQLite the reservation's write waits for the
    database's lock, which a transaction waiting on this object's lock would hold."""

    MOST = 64

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._held: dict[tuple[str, date], tuple[int, int, int]] = {}
        """(region, day) -> (next serial, last serial of the block, the block's size)."""

    def next(self, region: str, day: date) -> int:
        with self._lock:
            serial, last, size = self._held.get((region, day), (1, 0, 0))
            if serial > last:
                size = min(2 * size or 1, self.MOST)
                with self.engine.begin() as conn:
                    conn.info[HEADS_KEPT] = True
                    stmt = _RESERVE[conn.dialect.name]
                    last = int(conn.execute(stmt, {"region": region, "day": day, "size": size}).scalar_one())
                serial = last - size + 1
                if any(held_day != day for _, held_day in self._held):  # a new day: the rest is past
                    self._held = {k: v for k, v in self._held.items() if k[1] == day}
            self._held[region, day] = (serial + 1, last, size)
            return serial


def _batch(conn: Connection) -> None:
    """From here to the COMMIT of `CaseStore._write`'s transaction, on PostgreSQL, statements go
    out without waiting for their answers (psycopg's pipeline mode): one round trip for them all
    and the COMMIT. Only for statements whose result is not read (no SELECT, no RETURNING)."""
    if conn.dialect.name == "postgresql":
        conn.info[_BATCH].enter_context(conn.connection.driver_connection.pipeline())  # type: ignore[union-attr]


def _audit_line(by: str, action: str, target: str, **detail: Any) -> dict[str, Any]:
    """An audit row's values, as `lifecycle.audit` writes them (for `_INSERT_AUDIT`)."""
    return {
        "at": datetime.now(UTC),
        "by": by,
        "action": action,
        "target": target,
        "detail": _encoder.encode(detail).decode(),
    }


def _opened(
    conn: Connection,
    sealer: Sealer,
    sealed: dict[str, bytes | None],
    wanted: Sequence[tuple[str, Sequence[str] | None]],
    *,
    by: str,
    role: str,
) -> dict[str, Personal | None]:
    """The sealed personal data opened, each case's limited to the fields wanted (None: all of
    it), and one audit line per case read written (`personal`)."""
    out: dict[str, Personal | None] = {}
    lines: list[dict[str, Any]] = []
    opened: dict[str, Personal] = {}
    for case_id, fields in wanted:
        blob = sealed.get(case_id)
        if blob is None:
            out[case_id] = None
            continue
        whole = opened.get(case_id)
        if whole is None:
            whole = opened[case_id] = _personal_decoder.decode(sealer.open(blob, case_id))
        if fields is None:
            out[case_id] = whole
            shown: Any = ["applicant", *sorted(whole.form)]
        else:
            form = {k: v for k, v in whole.form.items() if k in fields}
            out[case_id] = Personal(applicant=Applicant(name="", id_number=""), form=form)
            shown = sorted(form)
        lines.append(_audit_line(by, "case.personal", case_id, role=role, fields=shown))
    if lines:  # sent at once (a queue page reads up to 500 cases), with the COMMIT
        _batch(conn)
        conn.execute(_INSERT_AUDIT, lines)
    return out


def _lock(conn: Connection, case_id: str) -> None:
    done = conn.execute(
        sa.update(CaseRow).where(CaseRow.id == case_id).values(moves=CaseRow.moves + 1)
    ).rowcount
    if done != 1:
        raise CaseNotFound("没有这个办件。")


def _load(conn: Connection, case_id: str) -> Loaded | None:
    row = conn.execute(sa.select(CaseRow.body, CaseRow.sealed).where(CaseRow.id == case_id)).first()
    if row is None:
        return None
    tasks = [
        _task_decoder.decode(body)
        for (body,) in conn.execute(
            sa.select(TaskRow.body).where(TaskRow.case_id == case_id).order_by(TaskRow.pk)
        )
    ]
    rated = conn.execute(sa.select(RatingRow.__table__).where(RatingRow.case_id == case_id)).first()
    rating = None if rated is None else _rating_of(rated)
    return Loaded(case=_case_decoder.decode(row[0]), tasks=tasks, rating=rating, purged=row[1] is None)


def _rating_of(row: Any) -> Rating:
    """A rating row as the Struct."""
    return Rating(
        case=row.case_id,
        score=row.score,
        comment=row.comment,
        tasks=msgspec.json.decode(row.tasks),
        rated_on=row.rated_on,
    )


def _task_columns(t: TaskRecord, body: bytes) -> dict[str, Any]:
    return {
        "state": t.task.state,
        "due": t.task.due,
        "due_provisional": t.task.due_provisional,
        "body": body.decode(),
    }


def _task_values(t: TaskRecord) -> dict[str, Any]:
    return {
        "id": t.task.id,
        "case_id": t.case,
        "agency": t.task.agency,
        **_task_columns(t, _encoder.encode(t)),
    }


def _write_case(conn: Connection, case: CaseRecord) -> None:
    conn.execute(
        sa.update(CaseRow)
        .where(CaseRow.id == case.id)
        .values(
            state=case.state,
            due=case.due,
            due_provisional=case.due_provisional,
            ended_on=case.ended_on,
            body=_encoder.encode(case).decode(),
        )
    )


def _rectification(row: Any) -> Rectification:
    """A rectification row (a mapping of its columns) as the Struct."""
    return Rectification(
        id=row["id"],
        case=row["case_id"],
        task=row["task_id"],
        agency=row["agency"],
        score=row["score"],
        comment=row["comment"],
        state=row["state"],
        due=row["due"],
        finding=row["finding"],
        action=row["action"],
        due_provisional=bool(row["due_provisional"]),
        region=row["region"],
    )


def recount_figures(loaded: Iterable[Loaded]) -> case_figures.Contribution:
    """What the counters would hold if counted from these cases (for checks and repair)."""
    total = case_figures.Contribution()
    for one in loaded:
        c = case_figures.contributions(one.case, one.tasks, one.rating)
        total.tally.update(c.tally)
        total.due.update(c.due)
        total.days.update(c.days)
    return total


def rebuild_figures(conn: Connection, batch: int = 1000) -> None:
    """Empty the counter rows (`case_figure*`) and count them again from every case and
    rectification, a batch of cases at a time (a migration's repair: memory stays bounded)."""
    for table, _, _ in (*case_figures.TABLES, *case_figures.RECTIFICATION_TABLES):
        conn.execute(sa.delete(table))
    after = ""
    while rows := conn.execute(
        sa.select(CaseRow.id, CaseRow.body).where(CaseRow.id > after).order_by(CaseRow.id).limit(batch)
    ).all():
        ids = [case_id for case_id, _ in rows]
        tasks: dict[str, list[TaskRecord]] = {case_id: [] for case_id in ids}
        for case_id, body in conn.execute(
            sa.select(TaskRow.case_id, TaskRow.body).where(TaskRow.case_id.in_(ids)).order_by(TaskRow.pk)
        ):
            tasks[case_id].append(_task_decoder.decode(body))
        ratings = {
            row.case_id: _rating_of(row)
            for row in conn.execute(sa.select(RatingRow.__table__).where(RatingRow.case_id.in_(ids)))
        }
        loaded = [
            Loaded(case=_case_decoder.decode(body), tasks=tasks[case_id], rating=ratings.get(case_id))
            for case_id, body in rows
        ]
        case_figures.add(conn, recount_figures(loaded))
        after = ids[-1]
    last = 0
    while rows := conn.execute(
        sa.select(RectificationRow.__table__)
        .where(RectificationRow.id > last)
        .order_by(RectificationRow.id)
        .limit(batch)
    ).all():
        total = case_figures.Contribution()
        for row in rows:
            one = case_figures.rectified(row._mapping)
            total.tally.update(one.tally)
            total.due.update(one.due)
        case_figures.add_rectifications(conn, total)
        last = rows[-1].id
