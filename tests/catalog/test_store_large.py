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

from catalog.apart import APART_FROM
from catalog.digest import digested
from catalog.load import dump_lines
from catalog.store import Refused, Store
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
    assert any(m.startswith("publish: digest in ") for m in caplog.messages)
    assert (published.version, published.added, published.changed, published.removed) == (2, 0, 5, 2)
    stored, _ = load_bytes(_stored(store))
    assert stored.implementations == impls
    store.dispose()


def test_small_records_after_the_cut_are_checked_in_file_order(db_url, large, tmp_path):
    """The digesting parts end in any order; the lines they leave to the publish (here the whole
    dictionary, moved to the end of the file, and a bad line among them) still go in file order."""
    path, data = large
    store = Store(db_url)
    store.publish_file(path, by="test")
    lines = data.splitlines(keepends=True)
    header, rest = lines[0], lines[1:]
    impls = [line for line in rest if line.startswith(b'{"kind":"implementation"')]
    others = [line for line in rest if not line.startswith(b'{"kind":"implementation"')]
    moved = tmp_path / "moved.jsonl"
    moved.write_bytes(header + b"".join(impls) + b"\n" + b"".join(others))
    published = store.publish_file(moved, by="test")  # the same records: nothing changed
    assert (published.added, published.changed, published.removed) == (0, 0, 0)
    twice = tmp_path / "twice.jsonl"
    twice.write_bytes(header + b"".join(impls) + b"".join(others) + others[0])
    with pytest.raises(Refused) as refused:
        store.publish_file(twice, by="test")
    [dup] = refused.value.findings
    assert dup.rule == "DUPLICATE" and dup.line == len(impls) + len(others) + 2  # the later one
    store.dispose()


@pytest.mark.parametrize("parts", [2, 3, 5])
def test_a_file_cut_in_parts_digests_as_the_whole(tmp_path, parts):
    lines = [b"\xef\xbb\xbf" + b'{"kind":"catalog","format":"onething-catalog/1","version":"1"}\r\n']
    for n in range(400):
        lines.append(b'{"kind":"implementation","code":"C%04d","x":"%s"}\n' % (n, b"y" * (n % 37)))
        if n % 50 == 7:
            lines.append(b"\n" if n % 100 == 7 else b'{"kind":"item","code":"I%d"}\r\n' % n)
    lines.append(b'{"kind":"implementation","code":"LAST"}')  # no line end
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"".join(lines))

    def frames(*cut: int) -> list[tuple]:
        out = []
        for frame in digested(path, False, True, *cut):
            if frame[0] == "rows":
                out.extend(("row", *row) for row in frame[4])
            else:
                out.append(frame)
        return out

    whole = frames()
    assert len([f for f in whole if f[0] == "row"]) == 401 and whole[-1][1] == "LAST"
    assert [f for part in range(parts) for f in frames(part, parts)] == whole


def test_lines_written_another_way_are_decoded_and_found_unchanged(db_url, large, tmp_path):
    """Implementation lines that do not start as this format's writers start them are decoded
    by the publishing process — in any part, at once — and compared by content."""
    path, data = large
    store = Store(db_url)
    store.publish_file(path, by="test")
    lines = data.splitlines(keepends=True)
    reordered = []
    for line in lines:
        record = msgspec.json.decode(line)
        if record.get("kind") == "implementation":
            line = msgspec.json.encode(dict(reversed(list(record.items())))) + b"\n"
        reordered.append(line)
    other = tmp_path / "other.jsonl"
    other.write_bytes(b"".join(reordered))
    published = store.publish_file(other, by="test")
    assert (published.added, published.changed, published.removed) == (0, 0, 0)
    store.dispose()
