"""A database made by the first store (one catalog, no versions) is refused with a clear word,
on the command line too; a token table without regions gets the column."""

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
