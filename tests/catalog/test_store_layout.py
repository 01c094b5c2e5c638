"""Schema changes are numbered migrations applied when a store opens (`catalog.store.migrations`):
a database made by the first store (one catalog, no versions) is refused with a clear word, on
the command line too; a token table without regions gets the column; a fresh store records the
newest number and an older one each migration it had."""

from __future__ import annotations

import subprocess
import sys

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
