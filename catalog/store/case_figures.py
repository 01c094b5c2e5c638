"""The figures of §7.4, kept as cases move: what a case contributes to the counter rows
(`case_tally`, `case_due_tally`, `case_days_tally`) is a function of the case as it stands, and
each write to a case adds (after − before) in its own transaction — so the counters always
equal a recount (`contributions` summed over every case), and a figure is a sum over counter
rows of a region's subtree (by its code's prefix), never a scan of the cases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from casework import FINAL, CaseRecord, Figures, Rating, RectificationFigures, TaskRecord

from .schema import DaysTallyRow, DueTallyRow, RectificationRow, TallyRow

Key = tuple[date, str, str, str, str]
"""(hand-in day, region, bundle or '', item or '', agency or '')."""

COUNTERS = ("cases", "open", "done", "closed", "tasks", "ratings", "score_sum", "good", "bad")
KEY_COLUMNS = ("day", "region", "bundle", "item", "agency")


class Contribution:
    """What some cases add to the three counter tables."""

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


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert(conn: Connection, table: Any, keys: tuple[str, ...], counters: list[str]) -> Any:
    """INSERT … ON CONFLICT DO UPDATE adding the counters, built once per dialect and table (so
    SQLAlchemy compiles it once) and sent with many rows at a time."""
    name = conn.dialect.name
    held = _UPSERTS.get((name, table.name))
    if held is None:
        dialect = postgresql if name == "postgresql" else sqlite
        stmt = dialect.insert(table)
        held = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: table.c[c] + stmt.excluded[c] for c in counters}
        )
        _UPSERTS[(name, table.name)] = held
    return held


def add(conn: Connection, delta: Contribution) -> None:
    """Add a contribution's counts to the counter rows (upserts, in the caller's transaction),
    in a fixed order so that two writers never deadlock on them."""
    rows: dict[Key, dict[str, int]] = {}
    for (key, column), n in delta.tally.items():
        rows.setdefault(key, {})[column] = n
    if rows:
        conn.execute(
            _upsert(conn, TallyRow.__table__, KEY_COLUMNS, list(COUNTERS)),
            [
                dict(zip(KEY_COLUMNS, key, strict=True)) | {c: rows[key].get(c, 0) for c in COUNTERS}
                for key in sorted(rows)
            ],
        )
    if delta.due:
        conn.execute(
            _upsert(conn, DueTallyRow.__table__, (*KEY_COLUMNS, "due"), ["count"]),
            [
                dict(zip(KEY_COLUMNS, key, strict=True)) | {"due": due, "count": n}
                for (key, due), n in sorted(delta.due.items())
            ],
        )
    if delta.days:
        conn.execute(
            _upsert(conn, DaysTallyRow.__table__, (*KEY_COLUMNS, "days"), ["count"]),
            [
                dict(zip(KEY_COLUMNS, key, strict=True)) | {"days": days, "count": n}
                for (key, days), n in sorted(delta.days.items())
            ],
        )


def region_prefix(code: str) -> str:
    """The prefix every region code under `code` starts with (GB/T 2260: a province PP0000 covers
    PP…, a city PPCC00 covers PPCC…, a county its 6 digits and the townships and villages under it;
    the nation everything)."""
    if len(code) != 6:
        return code
    if code == "000000":
        return ""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def _where(
    table: Any,
    region: str | None,
    bundle: str | None,
    item: str | None,
    agency: str | None,
    start: date | None,
    end: date | None,
    *,
    tasks: bool = False,
) -> list[Any]:
    """The counter rows of the filters: the case rows (item ''), or with `item` or `agency` (or
    `tasks`) the task rows."""
    where: list[Any] = []
    if region is not None and region_prefix(region):
        where.append(table.c.region.startswith(region_prefix(region), autoescape=True))
    if bundle is not None:
        where.append(table.c.bundle == bundle)
    if item is None and agency is None and not tasks:
        where.append(table.c.item == "")
    else:
        where.append(table.c.item != "")
        if item is not None:
            where.append(table.c.item == item)
        if agency is not None:
            where.append(table.c.agency == agency)
    if start is not None:
        where.append(table.c.day >= start)
    if end is not None:
        where.append(table.c.day <= end)
    return where


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
    filters = (region, bundle, item, agency, start, end)
    t = TallyRow.__table__
    sums = conn.execute(
        sa.select(*[sa.func.coalesce(sa.func.sum(t.c[c]), 0) for c in COUNTERS]).where(*_where(t, *filters))
    ).one()
    got = dict(zip(COUNTERS, (int(v) for v in sums), strict=True))
    d = DueTallyRow.__table__

    def late(where: list[Any]) -> int:
        query = sa.select(sa.func.coalesce(sa.func.sum(d.c.count), 0)).where(*where, d.c.due < today)
        return int(conn.execute(query).scalar_one())

    h = DaysTallyRow.__table__
    histogram = conn.execute(
        sa.select(h.c.days, sa.func.sum(h.c.count)).where(*_where(h, *filters)).group_by(h.c.days)
    ).all()
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
        rectifications=rectification_figures(conn, today=today, filters=filters),
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


def rectification_figures(conn: Connection, *, today: date, filters: tuple[Any, ...]) -> RectificationFigures:
    """Rectifications are few (one per 差评): counted from their own table through its indexes."""
    region, bundle, item, agency, start, end = filters
    r = RectificationRow.__table__
    where: list[Any] = []
    if region is not None and region_prefix(region):
        where.append(r.c.region.startswith(region_prefix(region), autoescape=True))
    if bundle is not None:
        where.append(r.c.bundle == bundle)
    if item is not None:
        where.append(r.c.item == item)
    if agency is not None:
        where.append(r.c.agency == agency)
    if start is not None:
        where.append(r.c.day >= start)
    if end is not None:
        where.append(r.c.day <= end)
    rows = conn.execute(
        sa.select(
            r.c.state,
            sa.func.count(),
            sa.func.sum(sa.case((sa.and_(r.c.state != "closed", r.c.due < today), 1), else_=0)),
        )
        .where(*where)
        .group_by(r.c.state)
    ).all()
    counts = {state: int(n) for state, n, _ in rows}
    overdue = sum(int(late or 0) for _, _, late in rows)
    return RectificationFigures(
        open=counts.get("open", 0),
        answered=counts.get("answered", 0),
        closed=counts.get("closed", 0),
        overdue=overdue,
    )
