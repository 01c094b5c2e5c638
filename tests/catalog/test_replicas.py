"""Reads on a real PostgreSQL hot standby (`catalog.store.replicas`): a replica behind the version
asked for never answers it — the primary does — and one that has replayed it does.

The standby is made here (`bench.standby`: a primary and its standby, two clusters on free ports,
pg_basebackup, streaming replication); its replay is paused with `pg_wal_replay_pause()`."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import httpx
import msgspec
import pytest
import sqlalchemy as sa

from api.settings import Settings, SettingsError
from bench.common import free_port
from bench.standby import Pair, Unavailable, replay, replication_pair, wait_replayed
from catalog.model import Catalog
from catalog.store import Store, reads
from catalog.validate import load_file
from tests.api.conftest import serving
from tests.conftest import NINGXIA, need

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    try:
        with replication_pair(durable=False) as made:
            yield made
    except Unavailable as exc:
        need(f"a PostgreSQL primary and hot standby made here ({exc})", False)


@pytest.fixture
def urls(pair: Pair) -> Iterator[tuple[str, str]]:
    """(primary, standby) URLs of a fresh schema, replayed on the standby."""
    schema = f"r_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(pair.primary)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    option = f"?options=-csearch_path%3D{schema}"
    yield pair.primary + option, pair.standby + option
    replay(pair.standby, paused=False)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture(scope="module")
def versions() -> tuple[Catalog, Catalog, str]:
    """Ningxia, and the same with a new header version and one implementation's promised days
    changed: (first, second, that implementation's code)."""
    first, report = load_file(NINGXIA)
    assert report.ok
    code = min(first.implementations)
    impl = first.implementations[code]
    second = msgspec.structs.replace(
        first,
        header=msgspec.structs.replace(first.header, version="2026.12"),
        implementations={
            **first.implementations,
            code: msgspec.structs.replace(impl, promised_days=impl.promised_days + 1),
        },
    )
    return first, second, code


def on_standby(standby: str, version: int, code: str) -> tuple[int, int]:
    """What the standby itself holds: (its newest version, the promised days it answers for `code`
    when asked for `version`)."""
    engine = sa.create_engine(standby)
    try:
        with engine.connect() as conn:
            found = reads.implementation(conn, version, code)
            assert found is not None
            return reads.heads(conn)[0], found[0].promised_days
    finally:
        engine.dispose()


def test_a_replica_behind_the_fence_never_answers_an_older_version(pair, urls, versions):
    primary, standby = urls
    first, second, code = versions
    store = Store(primary, replicas=[standby])
    assert store.replicas is not None
    replica = store.replicas.replicas[0]
    try:
        store.publish(first)
        wait_replayed(pair)
        days = first.implementations[code].promised_days
        assert store.implementation(1, code)[0].promised_days == days  # type: ignore[index]
        assert replica.reads == 1  # the standby has version 1: it answered

        replay(pair.standby, paused=True)
        assert store.publish(second).version == 2
        # Without the fence the standby would answer version 2 with version 1's content.
        assert on_standby(standby, 2, code) == (1, days)

        answered = replica.reads
        assert store.implementation(2, code)[0].promised_days == days + 1  # type: ignore[index]
        assert store.dictionaries(2).header.version == "2026.12"
        assert [i.promised_days for i in store.implementations(2, codes=[code])] == [days + 1]
        assert replica.reads == answered  # the primary answered each of them
        assert store.implementation(1, code)[0].promised_days == days  # type: ignore[index]
        assert replica.reads == answered + 1  # version 1 still reads on the standby

        replay(pair.standby, paused=False)
        wait_replayed(pair)
        assert store.implementation(2, code)[0].promised_days == days + 1  # type: ignore[index]
        assert replica.reads == answered + 2  # caught up: the standby answers version 2 again
    finally:
        store.dispose()


def test_a_read_waits_for_a_replica_that_catches_up_within_the_wait(pair, urls, versions):
    primary, standby = urls
    first, second, code = versions
    store = Store(primary, replicas=[standby], replica_wait=60)  # a wait no resume takes
    assert store.replicas is not None
    replica = store.replicas.replicas[0]
    try:
        store.publish(first)
        replay(pair.standby, paused=True)
        store.publish(second)
        resume = threading.Timer(0.2, replay, args=(pair.standby,), kwargs={"paused": False})
        resume.start()
        assert store.implementation(2, code)[0].promised_days == second.implementations[code].promised_days  # type: ignore[index]
        resume.join()
        assert replica.reads == 1 and replica.replayed >= 2  # the standby answered, once it had version 2
    finally:
        store.dispose()


def promised(detail: dict) -> dict[str, int]:
    """Code → promised days of an item's implementations, as `GET /items/{code}` shows them."""
    return {
        v["implementation"]["code"]: v["implementation"]["promised_days"] for v in detail["implementations"]
    }


def clients(url: str) -> int:
    """Connections of others to the server at `url`."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            query = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
            return conn.exec_driver_sql(query + " AND pid <> pg_backend_pid()").scalar_one()
    finally:
        engine.dispose()


def test_onething_serve_reads_the_version_it_shows_even_while_the_standby_lags(pair, urls, versions):
    primary, standby = urls
    first, second, code = versions
    writer = Store(primary)
    writer.publish(first)
    wait_replayed(pair)
    item = first.implementations[code].item
    days = first.implementations[code].promised_days
    try:
        with serving(primary, "--replica", standby) as (_, base):
            assert promised(httpx.get(f"{base}/items/{item}").json())[code] == days
            assert clients(pair.standby) > 0  # the server's reads of version 1 went to the standby
            replay(pair.standby, paused=True)
            writer.publish(second)
            health = httpx.get(f"{base}/health").json()
            assert (health["revision"], health["catalog"]["version"]) == (2, "2026.12")
            assert promised(httpx.get(f"{base}/items/{item}").json())[code] == days + 1
    finally:
        writer.dispose()


def test_a_replica_that_cannot_be_reached_leaves_the_reads_to_the_primary(pg_url, versions):
    first, _, code = versions
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    store = Store(pg_url, replicas=[nowhere])
    assert store.replicas is not None
    try:
        store.publish(first)
        days = first.implementations[code].promised_days
        assert store.implementation(1, code)[0].promised_days == days  # type: ignore[index]
        replica = store.replicas.replicas[0]
        assert replica.reads == 0 and not replica.allow()  # resting: not asked again for a while
        assert store.dictionaries(1).header.version == first.header.version
    finally:
        store.dispose()


def test_replicas_are_of_a_postgresql_store_only(sqlite_url):
    pg_url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"  # never connected to
    with pytest.raises(ValueError, match="PostgreSQL"):
        Store(sqlite_url, replicas=[pg_url])
    with pytest.raises(SettingsError, match="ONETHING_REPLICAS"):
        Settings.from_env({"ONETHING_DB": sqlite_url, "ONETHING_REPLICAS": pg_url})
    settings = Settings.from_env({"ONETHING_DB": pg_url, "ONETHING_REPLICAS": f" {pg_url}  {pg_url} "})
    assert settings.replicas == (pg_url, pg_url)
