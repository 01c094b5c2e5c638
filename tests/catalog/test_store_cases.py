"""The cases' store (`catalog.store.cases`) on SQLite and PostgreSQL: the rectification lists of
a region are answered through `ix_rect_region` (a range of codes, not LIKE)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from catalog.store import Store
from catalog.store.cases import rectification_query
from catalog.store.schema import RectificationRow


def _rectifications(store: Store, counties: int, each: int) -> None:
    """`each` rectifications in each of `counties` counties spread over the provinces, analysed."""
    codes = [f"{11 + n % 55:02d}{1 + n // 55 % 20:02d}{1 + n // 1100:02d}" for n in range(counties)]
    rows = [
        {
            "case_id": f"{code}-20261204-{k:04d}",
            "task_id": None,
            "agency": "11640104036401041P",
            "region": code,
            "bundle": "newborn",
            "item": "",
            "day": date(2026, 12, 4),
            "score": 1,
            "comment": "",
            "state": ("open", "answered", "closed")[k % 3],
            "opened_on": date(2026, 12, 7),
            "due": date(2026, 12, 28),
            "due_provisional": False,
            "finding": None,
            "action": None,
        }
        for code in codes
        for k in range(each)
    ]
    with store.engine.begin() as conn:
        conn.execute(sa.insert(RectificationRow), rows)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE" if conn.dialect.name == "sqlite" else "ANALYZE case_rectification")


def test_a_regions_rectifications_are_read_through_the_region_index(db_url):
    store = Store(db_url)
    _rectifications(store, counties=600, each=20)
    found = store.cases.rectifications(region="640000", today=date(2026, 12, 20), limit=10_000)
    assert found and {r.region[:2] for r in found} == {"64"}
    assert len(found) == sum(
        1 for r in store.cases.rectifications(today=date(2026, 12, 20), limit=100_000) if r.region[:2] == "64"
    )
    with store.engine.connect() as conn:
        for region, state in (("640104", None), ("640100", "open"), ("640000", None)):
            query = rectification_query(
                state=state, region=region, agency=None, overdue=None, today=date(2026, 12, 20), limit=500
            )
            sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
            if conn.dialect.name == "sqlite":
                plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
                assert "USING INDEX ix_rect_region (region>? AND region<?" in plan, plan
            else:
                plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql))
                assert "ix_rect_region" in plan and "Seq Scan" not in plan, plan
                cond = next(line for line in plan.splitlines() if "Index Cond" in line)
                assert "region" in cond, plan
    store.dispose()
