"""Schema changes are numbered migrations applied when a store opens (`catalog.store.migrations`):
a database made by the first store (one catalog, no versions) is refused with a clear word, on
the command line too; a token table without regions gets the column; a fresh store records the
newest number and an older one each migration it had."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import msgspec
import pytest
import sqlalchemy as sa

from catalog.store import Store, StoreOutdated
from tests.conftest import ROOT


def test_a_database_of_the_first_store_is_refused_clearly(sqlite_url):
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE onething_state (id INTEGER PRIMARY KEY, revision INTEGER)")
    engine.dispose()
    with pytest.raises(StoreOutdated, match="earlier onething"):
        Store(sqlite_url)
    done = subprocess.run(
        [sys.executable, "-m", "onething", "versions", "--db", sqlite_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "delete onething.db" in done.stderr


def test_a_token_table_without_regions_gets_the_column(sqlite_url):
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE api_token (digest VARCHAR(64) PRIMARY KEY, name VARCHAR, role VARCHAR(16), created_at DATETIME)"
        )
    engine.dispose()
    store = Store(sqlite_url)
    token = store.create_token("kept", "portal")
    assert store.token_role(token) == "portal"
    store.dispose()


def test_a_sqlite_store_without_the_current_index_gets_it_and_a_republish_uses_it(sqlite_url):
    """The republish's question of every line (this code, these bytes, in the newest version?)
    is answered from an index alone on SQLite; a store made before it gets it when opened."""
    from tests.conftest import NINGXIA

    store = Store(sqlite_url)
    store.publish_file(NINGXIA, by="test")
    with store.engine.begin() as conn:  # as a store made before migration 4 was
        conn.exec_driver_sql("DROP INDEX ix_impl_current")
        conn.exec_driver_sql("DELETE FROM schema_migration WHERE number >= 4")
    store.dispose()
    store = Store(sqlite_url)
    with store.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT 1 FROM catalog_implementation i "
            "WHERE i.code = 'x' AND i.hash = 'y' AND i.valid_to IS NULL"
        ).all()
    assert "COVERING INDEX ix_impl_current" in " ".join(str(row[-1]) for row in plan)
    assert store.publish_file(NINGXIA, by="test").changed == 0
    store.dispose()


def test_postgresql_has_no_current_index(pg_url):
    store = Store(pg_url)
    names = {i["name"] for i in sa.inspect(store.engine).get_indexes("catalog_implementation")}
    assert "ix_impl_current" not in names and "ux_impl_code" in names
    store.dispose()


def _numbers(store: Store) -> list[int]:
    with store.engine.connect() as conn:
        return [n for (n,) in conn.exec_driver_sql("SELECT number FROM schema_migration ORDER BY number")]


def test_a_fresh_store_records_the_newest_migration_and_an_old_one_runs_the_rest(db_url):
    from catalog.store.migrations import NEWEST, applied

    url = db_url
    store = Store(url)
    assert _numbers(store) == [NEWEST]
    with store.engine.begin() as conn:  # a store made before the numbers were kept, and the agency
        conn.exec_driver_sql("DROP TABLE schema_migration")
        conn.exec_driver_sql("ALTER TABLE api_token DROP COLUMN agency")
    store.dispose()
    store = Store(url)
    assert _numbers(store) == list(range(1, NEWEST + 1)) and applied(store.engine) == NEWEST
    token = store.create_token("农业农村厅", "agency", agency="11640000MB16734896")
    assert store.token_caller(token).agency == "11640000MB16734896"
    store.dispose()
    assert _numbers(Store(url)) == list(range(1, NEWEST + 1))  # opened again: nothing runs twice


def _old_tallies(conn: sa.Connection) -> None:
    """The counter tables of the first store of cases, before the rolled figure rows (case_figure*)
    replaced them, with a row in one."""
    from catalog.store.case_figures import COUNTERS

    old = sa.MetaData()

    def key() -> list[sa.Column]:
        return [
            sa.Column("day", sa.Date, primary_key=True),
            sa.Column("region", sa.String(16), primary_key=True),
            sa.Column("bundle", sa.String(200), primary_key=True),
            sa.Column("item", sa.String(32), primary_key=True),
            sa.Column("agency", sa.String(18), primary_key=True),
        ]

    tally = sa.Table("case_tally", old, *key(), *(sa.Column(c, sa.BigInteger) for c in COUNTERS))
    sa.Table(
        "case_due_tally",
        old,
        *key(),
        sa.Column("due", sa.Date, primary_key=True),
        sa.Column("count", sa.BigInteger),
    )
    sa.Table(
        "case_days_tally",
        old,
        *key(),
        sa.Column("days", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("count", sa.BigInteger),
    )
    old.create_all(conn)
    conn.execute(
        sa.insert(tally),
        {
            "day": date(2026, 12, 4),
            "region": "640104",
            "bundle": "newborn",
            "item": "",
            "agency": "",
            "cases": 1,
        },
    )


def test_a_store_of_cases_made_before_the_rolled_figures_gets_them_counted_from_its_cases(
    db_url, monkeypatch
):
    """Migration 5: the figures of a store that kept `case_tally` tables (or no rectification
    counters) are counted again from its cases and rectifications, and equal a full recount."""
    from catalog.store.case_figures import RECTIFICATION_TABLES, TABLES
    from catalog.store.migrations import NEWEST, OLD_TALLIES, applied
    from tests.api.case_helpers import HEALTH, case_api, finish, recounted, stored_counters, task_of

    asked = [{}, {"region": "640100"}, {"agency": HEALTH}, {"from": "2026-12-01", "to": "2026-12-03"}]
    with case_api(db_url, monkeypatch) as c:
        made = []
        for day in (1, 2, 3, 4):
            c.clock.today = date(2026, 12, day)
            made.append(c.hand_in().json())
        c.clock.today = date(2026, 12, 7)
        for case in made[:2]:
            finish(c, case["id"], case["access"])
        c.event(task_of(made[2], 1)["id"], "reject", "health", note="不予受理")
        finish(c, made[2]["id"], made[2]["access"])  # closed: the rest done or cancelled
        c.event(task_of(made[3], 1)["id"], "accept", "health")
        for case, score in ((made[0], 1), (made[1], 4), (made[2], 2)):
            rated = c.api.client.post(
                f"/cases/{case['id']}/rating",
                json={"score": score},
                headers={"X-Case-Access": case["access"]},
            )
            assert rated.status_code == 201, rated.text
        rid = rated.json()["rectifications"][0]["id"]
        c.api.store.cases.move_rectification(rid, "answer", by="t", finding="f", action_text="a")
        c.clock.today = date(2026, 12, 31)
        before = [c.api.client.get("/stats/cases", params=q).json() for q in asked]
    assert before[0]["cases"] == 4 and before[0]["rectifications"]["answered"] == 1

    store = Store(db_url)
    figures = {t.name for t, _, _ in (*TABLES, *RECTIFICATION_TABLES)}
    for dropped in (figures, {t.name for t, _, _ in RECTIFICATION_TABLES}):
        with store.engine.begin() as conn:  # as a store made before migration 5
            for name in dropped:
                conn.exec_driver_sql(f"DROP TABLE {name}")
            if dropped == figures:
                _old_tallies(conn)
            conn.exec_driver_sql("DELETE FROM schema_migration WHERE number >= 5")
        store.dispose()
        store = Store(db_url)
        assert applied(store.engine) == NEWEST
        tables = set(sa.inspect(store.engine).get_table_names())
        assert figures <= tables and not tables & set(OLD_TALLIES)
        assert stored_counters(store) == recounted(store) and any(stored_counters(store)[-2])
        after = [
            msgspec.to_builtins(store.cases.figures(today=date(2026, 12, 31), **_filters(q))) for q in asked
        ]
        assert after == before
    store.dispose()


def _filters(query: dict[str, str]) -> dict[str, object]:
    """A /stats/cases query as the store's figures take it."""
    out: dict[str, object] = {k: v for k, v in query.items() if k not in ("from", "to")}
    if "from" in query:
        out["start"] = date.fromisoformat(query["from"])
    if "to" in query:
        out["end"] = date.fromisoformat(query["to"])
    return out
