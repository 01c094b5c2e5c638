"""Large files (issue 8): a first publish validates a large file in a process of its own while
the publishing one loads it, and on SQLite, alone with the database, writes it straight into the
file (rollback journal) — then WAL again; a republish digests it apart while the stage loads.
Whichever way, the same store."""

from __future__ import annotations

import io
import logging
import sqlite3
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from catalog.load import dump_lines
from catalog.store import Refused, Store
from catalog.store.apart import APART_FROM
from catalog.store.schema import ImplementationRow
from catalog.validate import load_bytes
from fixtures.generate import generate


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> tuple[Path, bytes]:
    """A catalog file big enough to be validated apart."""
    out = io.BytesIO()
    generate(out, 20_000, seed=3)
    path = tmp_path_factory.mktemp("first") / "large.jsonl"
    path.write_bytes(out.getvalue())
    assert path.stat().st_size >= APART_FROM
    return path, out.getvalue()


def _journal(url: str) -> str:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def _stored(store: Store) -> bytes:
    return b"".join(store.export())


def test_a_large_first_publish_is_validated_apart_and_stores_the_file(db_url, large, caplog):
    path, data = large
    store = Store(db_url)
    with caplog.at_level(logging.INFO, logger="onething.store"):
        published = store.publish_file(path, by="test")
    assert published.version == 1 and published.removed == 0
    assert "publish: validate in a process of its own" in caplog.messages
    expected, _ = load_bytes(data)
    stored, report = load_bytes(_stored(store))
    assert report.ok and stored.implementations == expected.implementations
    assert stored.items == expected.items and stored.regions == expected.regions
    if db_url.startswith("sqlite"):  # alone with the database: written straight into the file
        assert "publish: writing straight into the database file (no other connection)" in caplog.messages
        assert _journal(db_url) == "wal"
    store.dispose()


def test_a_first_publish_beside_another_connection_goes_through_the_wal(sqlite_url, large, caplog):
    path, data = large
    store = Store(sqlite_url)
    reader = Store(sqlite_url)
    with reader.engine.connect() as held:  # another connection has the database open
        assert held.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        with caplog.at_level(logging.INFO, logger="onething.store"):
            store.publish_file(path, by="test")
        assert not any("straight into the database file" in m for m in caplog.messages)
    assert reader.revision() == 1  # the other connection sees it on its next read
    expected, _ = load_bytes(data)
    stored, _ = load_bytes(_stored(reader))
    assert stored.implementations == expected.implementations
    assert _journal(sqlite_url) == "wal"
    store.dispose()
    reader.dispose()


def test_an_error_found_apart_refuses_with_its_line_and_writes_nothing(db_url, large, tmp_path):
    path, data = large
    lines = data.splitlines(keepends=True)
    at = [i for i, line in enumerate(lines) if b'"kind":"implementation"' in line][10]
    lines[at] = lines[at].replace(b'"visits":', b'"visits":"many","x":', 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(lines))
    assert bad.stat().st_size >= APART_FROM
    store = Store(db_url)
    with pytest.raises(Refused) as refused:
        store.publish_file(bad, by="test")
    assert [(f.rule, f.line) for f in refused.value.findings] == [("SCHEMA", at + 1)]
    assert store.revision() == 0 and _stored_count(store) == 0
    if db_url.startswith("sqlite"):
        assert _journal(db_url) == "wal"
    store.publish_file(path, by="test")  # and the store takes the right file after
    assert store.revision() == 1
    store.dispose()


def _stored_count(store: Store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ImplementationRow)).scalar_one()


def test_a_small_first_publish_is_validated_in_process(db_url, tmp_path):
    out = io.BytesIO()
    generate(out, 300, seed=5)
    catalog, _ = load_bytes(out.getvalue())
    path = tmp_path / "small.jsonl"
    path.write_bytes(b"".join(dump_lines(catalog)))
    assert path.stat().st_size < APART_FROM
    store = Store(db_url)
    assert store.publish_file(path, by="test").version == 1
    stored, _ = load_bytes(_stored(store))
    assert stored.implementations == catalog.implementations
    store.dispose()


def test_a_large_republish_is_digested_apart_and_writes_only_what_changed(db_url, large, tmp_path, caplog):
    path, data = large
    store = Store(db_url)
    store.publish_file(path, by="test")
    catalog, _ = load_bytes(data)
    impls = dict(catalog.implementations)
    codes = sorted(impls)
    for code in codes[100:105]:
        impls[code] = msgspec.structs.replace(impls[code], window="调整后的窗口")
    for code in codes[200:202]:
        del impls[code]
    changed = msgspec.structs.replace(catalog, implementations=impls, lines={})
    second = tmp_path / "second.jsonl"
    second.write_bytes(b"".join(dump_lines(changed)))
    assert second.stat().st_size >= APART_FROM
    with caplog.at_level(logging.INFO, logger="onething.store"):
        published = store.publish_file(second, by="test")
    assert "publish: digest in a process of its own" in caplog.messages
    assert (published.version, published.added, published.changed, published.removed) == (2, 0, 5, 2)
    stored, _ = load_bytes(_stored(store))
    assert stored.implementations == impls
    store.dispose()
