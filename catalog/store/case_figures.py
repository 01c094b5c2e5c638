"""The figures of §7.4, kept as cases move: what a case contributes to the counters is a function
of the case as it stands (`contributions`, keyed by hand-in day, region, bundle, item, agency),
and each write to a case adds (after − before) in its own transaction — so the counters always
equal a recount (`contributions` summed over every case).

The counters are stored rolled up (`FigureRow`, `FigureDueRow`, `FigureDaysRow`): each key is
written once per `scope` — the prefix of the case's region at each level ('' the nation, PP,
PPCC, the county's 6 digits, the township's 9, the village's 12) — and once per span, the day
('d') and its month ('m'). A region's figures over a date range are then an indexed equality
on its scope: whole months from the month rows, the edge days of partial months from the day
rows — never a scan of the cases, nor of the regions under it.

Rectifications are counted the same way (`rectified`, `add_rectifications`): by state, and those
not closed by due day, under their case's key — every write to one adds (after − before).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from casework import FINAL, CaseRecord, Figures, Rating, RectificationFigures, TaskRecord

from ..codes import region_prefix
from .schema import (
    FigureDaysRow,
    FigureDueRow,
    FigureRectificationDueRow,
    FigureRectificationRow,
    FigureRow,
)

Key = tuple[date, str, str, str, str]
"""(hand-in day, region, bundle or '', item or '', agency or '')."""
Rolled = tuple[str, str, str, str, date, str]
"""(scope, item, agency, span 'd' or 'm', the day or the month's first day, bundle): a stored row."""

COUNTERS = ("cases", "open", "done", "closed", "tasks", "ratings", "score_sum", "good", "bad")
ROLLED_COLUMNS = ("scope", "item", "agency", "span", "start", "bundle")
ALL_TASKS = "*"
"""The item of the due rows that count every running task of a case (the tasks' overdue figure
without an item or agency asked)."""
LEVEL_LENGTHS = (0, 2, 4, 6, 9, 12)
"""The lengths of a scope: the prefixes `region_prefix` gives for the codes of each level."""


class Contribution:
    """What some cases add to the three kinds of counters."""

    def __init__(self) -> None:
        self.tally: Counter[tuple[Key, str]] = Counter()
        self.due: Counter[tuple[Key, date]] = Counter()
        self.days: Counter[tuple[Key, int]] = Counter()

    def minus(self, other: Contribution) -> Contribution:
        out = Contribution()
        mine: Any
        theirs: Any
        into: Any
        for mine, theirs, into in (
            (self.tally, other.tally, out.tally),
            (self.due, other.due, out.due),
            (self.days, other.days, out.days),
        ):
            for k in mine.keys() | theirs.keys():
                delta = mine.get(k, 0) - theirs.get(k, 0)
                if delta:
                    into[k] = delta
        return out


def _state_column(state: str) -> str:
    if state not in FINAL and state not in ("done", "closed"):
        return "open"
    return "done" if state == "done" else "closed"


def contributions(case: CaseRecord, tasks: Iterable[TaskRecord], rating: Rating | None) -> Contribution:
    """What one case, as it stands, adds to the counters."""
    out = Contribution()
    base = (case.handed_on, case.region, case.bundle or "")
    whole: Key = (*base, "", "")
    every_task: Key = (*base, ALL_TASKS, "")
    tasks = list(tasks)
    out.tally[whole, "cases"] += 1
    out.tally[whole, case.state] += 1
    out.tally[whole, "tasks"] += len(tasks)
    if case.state == "open":
        out.due[whole, case.due] += 1
    elif case.took is not None:
        out.days[whole, case.took] += 1
    if rating is not None:
        _score(out, whole, rating.score)
    for record in tasks:
        t = record.task
        key: Key = (*base, t.item, t.agency)
        out.tally[key, "cases"] += 1
        out.tally[key, "tasks"] += 1
        out.tally[key, _state_column(t.state)] += 1
        if t.state not in FINAL and t.due is not None:
            out.due[key, t.due] += 1
            out.due[every_task, t.due] += 1
        if t.state in FINAL and record.took is not None:
            out.days[key, record.took] += 1
        if rating is not None and t.id in rating.tasks:
            _score(out, key, rating.tasks[t.id])
    return out


def _score(out: Contribution, key: Key, score: int) -> None:
    out.tally[key, "ratings"] += 1
    out.tally[key, "score_sum"] += score
    out.tally[key, "good"] += score >= 4
    out.tally[key, "bad"] += score <= 2


@functools.lru_cache(maxsize=4096)
def scopes(region: str) -> tuple[str, ...]:
    """The scopes a case of `region` is counted under: its code's prefix at every level length
    (a province's case also under PP00 and PP0000, rows no query asks for: harmless)."""
    return tuple(region[:n] for n in LEVEL_LENGTHS if n <= len(region))


@functools.lru_cache(maxsize=4096)
def _roll(key: Key) -> tuple[Rolled, ...]:
    """The stored rows one key is counted in (kept: a day's hand-ins repeat their keys)."""
    day, region, bundle, item, agency = key
    month = day.replace(day=1)
    return tuple(
        (scope, item, agency, span, start, bundle)
        for scope in scopes(region)
        for span, start in (("d", day), ("m", month))
    )


class Rows:
    """A contribution as the stored rows it adds to: rolled keys → counts (zeros left out), the
    tally's in the order of `counters` (the cases' or the rectifications' columns)."""

    def __init__(self, delta: Contribution, counters: tuple[str, ...] = COUNTERS) -> None:
        column = {c: i for i, c in enumerate(counters)}
        by_key: dict[Key, list[int]] = {}
        for (key, name), n in delta.tally.items():
            counts = by_key.get(key)
            if counts is None:
                counts = by_key[key] = [0] * len(counters)
            counts[column[name]] += n
        self.tally: dict[Rolled, list[int]] = {}
        for key, counts in by_key.items():
            for rolled in _roll(key):
                held = self.tally.get(rolled)
                if held is None:
                    self.tally[rolled] = counts.copy()
                else:
                    for i, n in enumerate(counts):
                        held[i] += n
        self.due: Counter[tuple[Rolled, date]] = Counter()
        self.days: Counter[tuple[Rolled, int]] = Counter()
        for (key, due), n in delta.due.items():
            for rolled in _roll(key):
                self.due[rolled, due] += n
        for (key, days), n in delta.days.items():
            for rolled in _roll(key):
                self.days[rolled, days] += n

    def each(self) -> tuple[list[tuple[Any, ...]], ...]:
        """The rows of each of `TABLES` (keys, then counters), in key order, zeros left out."""
        tally = [(*rolled, *counts) for rolled, counts in sorted(self.tally.items()) if any(counts)]
        due = [(*rolled, day, n) for (rolled, day), n in sorted(self.due.items()) if n]
        days = [(*rolled, took, n) for (rolled, took), n in sorted(self.days.items()) if n]
        return tally, due, days


def _pg_upsert(table: Any, keys: tuple[str, ...], counters: tuple[str, ...]) -> Any:
    """INSERT … SELECT FROM json_array_elements(the rows as one JSON text) ON CONFLICT DO UPDATE
    adding the counters: a hand-in's ~50–150 rows in one statement of constant text (prepared
    once), which the server runs as one execution — not one per row — and whose one parameter
    msgspec encodes at C speed (psycopg dumps arrays of values one value at a time, in Python)."""
    columns = [*keys, *counters]
    rows = sa.func.json_array_elements(sa.cast(sa.bindparam("rows", type_=sa.Text), postgresql.JSON))
    row = rows.table_valued("value").render_derived(name="row")
    fields = [
        sa.cast(row.c.value.op("->>")(sa.literal_column(str(i))), table.c[c].type)
        for i, c in enumerate(columns)
    ]
    stmt = postgresql.insert(table).from_select(columns, sa.select(*fields))
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: table.c[c] + stmt.excluded[c] for c in counters}
    )


def _sqlite_upsert(table: Any, keys: tuple[str, ...], counters: tuple[str, ...]) -> str:
    """The same upsert as SQL text for the driver's own executemany (its loop in C: SQLAlchemy
    would build each row's parameters in Python)."""
    columns = [*keys, *counters]
    adds = ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in counters)
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {adds}"
    )


TABLES: tuple[tuple[Any, tuple[str, ...], tuple[str, ...]], ...] = (
    (FigureRow.__table__, ROLLED_COLUMNS, COUNTERS),
    (FigureDueRow.__table__, (*ROLLED_COLUMNS, "due"), ("count",)),
    (FigureDaysRow.__table__, (*ROLLED_COLUMNS, "days"), ("count",)),
)
"""The three counter tables: their keys and counters, the columns of `Rows.each()`' rows."""


_json = msgspec.json.Encoder()
_PG_UPSERTS = tuple(str(_pg_upsert(*t).compile(dialect=postgresql.psycopg.dialect())) for t in TABLES)
"""As the driver's text (`add` sends them through its cursor: no per-statement SQLAlchemy work on
the hand-in's path; psycopg prepares each once it has run a few times)."""
_SQLITE_UPSERTS = tuple(_sqlite_upsert(*t) for t in TABLES)


def pg_upsert_ctes(param: str) -> list[str]:
    """`add`'s upserts as data-modifying CTEs `f0`, `f1`, … of one statement (a hand-in's,
    `catalog.store.cases`), their rows in the parameters `param0`, `param1`, …: each CTE reads
    the count of the one before (laterally: its rows come only after), so they lock their rows
    in `TABLES`' order as `add` does and two writers never deadlock on them — the sub-statements
    of a WITH run in no stated order."""
    dialect = postgresql.dialect()
    ctes = []
    for i, (table, keys, counters) in enumerate(TABLES):
        columns = (*keys, *counters)
        fields = ", ".join(
            f"(r.v->>{j})::{table.c[c].type.compile(dialect=dialect)}" for j, c in enumerate(columns)
        )
        rows = f"%({param}{i})s::json"
        if i:  # lateral: its rows cannot be read before the CTE before it has run
            rows = f"CASE WHEN before.n >= 0 THEN {rows} END"
        source = f"(SELECT count(*) AS n FROM f{i - 1}) AS before, LATERAL " if i else ""
        adds = ", ".join(f'"{c}" = {table.name}."{c}" + excluded."{c}"' for c in counters)
        into, conflict = _quoted(columns), _quoted(keys)
        ctes.append(
            f"f{i} AS (INSERT INTO {table.name} ({into}) "
            f"SELECT {fields} FROM {source}json_array_elements({rows}) AS r(v) "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {adds} RETURNING 1)"
        )
    return ctes


def _quoted(columns: Iterable[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def pg_rows(delta: Contribution, param: str) -> dict[str, str]:
    """A contribution's rows as the parameters of `pg_upsert_ctes(param)` (JSON texts)."""
    return {f"{param}{i}": _json.encode(rows).decode() for i, rows in enumerate(Rows(delta).each())}


_DATES = tuple(
    tuple(i for i, c in enumerate((*keys, *counters)) if isinstance(table.c[c].type, sa.Date))
    for table, keys, counters in TABLES
)
"""Where each table's rows hold dates (SQLite stores them as ISO text, as SQLAlchemy does)."""


def add(conn: Connection, delta: Contribution) -> None:
    """Add a contribution's counts to the counter rows (one upsert per table, in the caller's
    transaction), in key order so that two writers never deadlock on them."""
    pg = conn.dialect.name == "postgresql"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for rows, pg_upsert, sqlite_upsert, dates in zip(
            Rows(delta).each(), _PG_UPSERTS, _SQLITE_UPSERTS, _DATES, strict=True
        ):
            if not rows:
                continue
            if pg:
                cursor.execute(pg_upsert, {"rows": _json.encode(rows).decode()})
            else:
                cursor.executemany(sqlite_upsert, [_iso_dates(row, dates) for row in rows])
    finally:
        cursor.close()


def _iso_dates(row: tuple[Any, ...], dates: tuple[int, ...]) -> list[Any]:
    out = list(row)
    for i in dates:
        out[i] = out[i].isoformat()
    return out


def _after(prefix: str) -> str:
    """The least string above every string starting with `prefix` (which is not empty)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def within(column: Any, region: str | None) -> list[Any]:
    """A region code column inside `region`'s subtree, as an indexable range (not LIKE)."""
    return prefixed(column, region_prefix(region) if region is not None else "")


def prefixed(column: Any, prefix: str) -> list[Any]:
    """A code column starting with `prefix` (empty: any), as an indexable range (not LIKE)."""
    if not prefix:
        return []
    return [column >= prefix, column < _after(prefix)]


def _scope(table: Any, region: str | None) -> list[Any]:
    """The rows of `region`'s scope: an equality when its prefix has a level's length (always,
    for well-formed codes); else the scopes of the next longer level inside the prefix's range —
    each case has exactly one of those, and lies under the prefix exactly when it does."""
    prefix = region_prefix(region) if region is not None else ""
    if len(prefix) in LEVEL_LENGTHS:
        return [table.c.scope == prefix]
    longer = [n for n in LEVEL_LENGTHS if n > len(prefix)]
    if not longer:
        return [sa.false()]
    return [*within(table.c.scope, region), sa.func.length(table.c.scope) == longer[0]]


def _month_after(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


Period = tuple[str, date | None, date | None]
"""(span, first start, start to stop before): the rows of one span over a half-open range."""


def periods(start: date | None, end: date | None) -> list[Period]:
    """The hand-in days `start`..`end` (inclusive, None unbounded) as month rows for the whole
    months inside and day rows for the days of the partial months at either edge."""
    if start is not None and end is not None and start > end:
        return []
    first = start if start is None or start.day == 1 else _month_after(start)
    stop = None if end is None else end + timedelta(days=1)
    last = stop if stop is None or stop.day == 1 else stop.replace(day=1)
    if first is not None and last is not None and first >= last:
        return [("d", start, stop)]
    out: list[Period] = [("m", first, last)]
    if start is not None and first is not None and start < first:
        out.append(("d", start, first))
    if stop is not None and last is not None and last < stop:
        out.append(("d", last, stop))
    return out


def _where(
    table: Any,
    region: str | None,
    bundle: str | None,
    item: str | None,
    agency: str | None,
    *,
    tasks: bool = False,
) -> list[Any]:
    """The rows of the filters but the dates: the case rows (item ''), with `item` or `agency`
    that item's or agency's task rows, or with `tasks` alone the rows of every running task."""
    where = _scope(table, region)
    if bundle is not None:
        where.append(table.c.bundle == bundle)
    if item is None and agency is None:
        where += [table.c.item == (ALL_TASKS if tasks else ""), table.c.agency == ""]
    else:
        if item is not None:
            where.append(table.c.item == item)
        if agency is not None:
            where.append(table.c.agency == agency)
    return where


def _over(table: Any, columns: list[Any], where: list[Any], spans: list[Period]) -> Any:
    """The rows of `where` over the periods (one indexed range each), as one subquery."""
    parts = []
    for span, lo, hi in spans:
        bounds = [table.c.span == span]
        if lo is not None:
            bounds.append(table.c.start >= lo)
        if hi is not None:
            bounds.append(table.c.start < hi)
        parts.append(sa.select(*columns).where(*where, *bounds))
    if not parts:
        return sa.select(*columns).where(sa.false()).subquery()
    return (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery()


def figures(
    conn: Connection,
    *,
    today: date,
    region: str | None = None,
    bundle: str | None = None,
    item: str | None = None,
    agency: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> Figures:
    """§7.4 from the counter rows. With `item` or `agency`, the cases counted are that item's or
    agency's tasks (a case with two tasks of one agency counts twice for it)."""
    filters = (region, bundle, item, agency)
    spans = periods(start, end)
    t = FigureRow.__table__
    rows = _over(t, [t.c[c] for c in COUNTERS], _where(t, *filters), spans)
    sums = conn.execute(sa.select(*[sa.func.coalesce(sa.func.sum(rows.c[c]), 0) for c in COUNTERS])).one()
    got = dict(zip(COUNTERS, (int(v) for v in sums), strict=True))
    d = FigureDueRow.__table__

    def late(where: list[Any]) -> int:
        due = _over(d, [d.c.count], [*where, d.c.due < today], spans)
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(due.c.count), 0))).scalar_one())

    h = FigureDaysRow.__table__
    took = _over(h, [h.c.days, h.c.count], _where(h, *filters), spans)
    histogram = conn.execute(sa.select(took.c.days, sa.func.sum(took.c.count)).group_by(took.c.days)).all()
    ratings = got["ratings"]
    return Figures(
        cases=got["cases"],
        open=got["open"],
        done=got["done"],
        closed=got["closed"],
        overdue=late(_where(d, *filters)),
        tasks=got["tasks"],
        tasks_overdue=late(_where(d, *filters, tasks=True)),
        days_median=median({int(k): int(v) for k, v in histogram if v}),
        ratings=ratings,
        score_mean=round(got["score_sum"] / ratings, 3) if ratings else None,
        good_rate=round(got["good"] / ratings, 4) if ratings else None,
        bad=got["bad"],
        rectifications=rectification_figures(conn, today=today, filters=filters, spans=spans),
    )


def median(histogram: dict[int, int]) -> float | None:
    """The median of values given as value → count."""
    total = sum(histogram.values())
    if total == 0:
        return None
    values = sorted(histogram)
    lower_rank, upper_rank = (total - 1) // 2, total // 2
    seen, lower, upper = 0, None, None
    for v in values:
        nxt = seen + histogram[v]
        if lower is None and lower_rank < nxt:
            lower = v
        if upper is None and upper_rank < nxt:
            upper = v
            break
        seen = nxt
    assert lower is not None and upper is not None
    return (lower + upper) / 2


RECTIFICATION_STATES = ("open", "answered", "closed")
RECTIFICATION_TABLES: tuple[tuple[Any, tuple[str, ...], tuple[str, ...]], ...] = (
    (FigureRectificationRow.__table__, ROLLED_COLUMNS, RECTIFICATION_STATES),
    (FigureRectificationDueRow.__table__, (*ROLLED_COLUMNS, "due"), ("count",)),
)
"""The rectifications' counter tables, as `TABLES`."""


def rectified(row: Mapping[Any, Any]) -> Contribution:
    """What one rectification (the columns of its row) adds to the rectification counters: its
    state, and its due day while not closed, under its case's key (item and agency '') and under
    its own item and agency."""
    out = Contribution()
    base = (row["day"], row["region"], row["bundle"])
    for key in ((*base, "", ""), (*base, row["item"], row["agency"])):
        out.tally[key, row["state"]] += 1
        if row["state"] != "closed":
            out.due[key, row["due"]] += 1
    return out


def rectification_rows(delta: Contribution) -> tuple[list[tuple[Any, ...]], ...]:
    """The rows of each of `RECTIFICATION_TABLES` a contribution adds to, as `Rows.each`."""
    states, due, _ = Rows(delta, RECTIFICATION_STATES).each()
    return states, due


def _adding(dialect: Any, table: Any, keys: tuple[str, ...], counters: tuple[str, ...]) -> Any:
    stmt = dialect.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: table.c[c] + stmt.excluded[c] for c in counters}
    )


_ADD_RECTIFICATIONS = {
    name: tuple(_adding(dialect, *t) for t in RECTIFICATION_TABLES)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
"""Upserts adding to the rectification counters, per dialect (a rating's few rows: plain
executemany is enough)."""


def add_rectifications(conn: Connection, delta: Contribution) -> None:
    """Add what `rectified` gave (or a difference of two) to the rectification counter rows, in
    key order, in the caller's transaction."""
    upserts = _ADD_RECTIFICATIONS[conn.dialect.name]
    for (_, keys, counters), upsert, rows in zip(
        RECTIFICATION_TABLES, upserts, rectification_rows(delta), strict=True
    ):
        if rows:
            columns = (*keys, *counters)
            conn.execute(upsert, [dict(zip(columns, row, strict=True)) for row in rows])


def rectification_figures(
    conn: Connection, *, today: date, filters: tuple[str | None, ...], spans: list[Period]
) -> RectificationFigures:
    """§7.4's rectifications from their counter rows, as `figures` reads the cases'."""
    t = FigureRectificationRow.__table__
    rows = _over(t, [t.c[s] for s in RECTIFICATION_STATES], _where(t, *filters), spans)
    sums = conn.execute(
        sa.select(*[sa.func.coalesce(sa.func.sum(rows.c[s]), 0) for s in RECTIFICATION_STATES])
    ).one()
    got = dict(zip(RECTIFICATION_STATES, (int(v) for v in sums), strict=True))
    d = FigureRectificationDueRow.__table__
    due = _over(d, [d.c.count], [*_where(d, *filters), d.c.due < today], spans)
    overdue = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(due.c.count), 0))).scalar_one()
    return RectificationFigures(
        open=got["open"], answered=got["answered"], closed=got["closed"], overdue=int(overdue)
    )
