"""The store against a real SQLite file and the real PostgreSQL: publish, export, bundles, tokens."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from catalog.load import dump_lines, read_bytes
from catalog.model import Bundle
from catalog.store import BundleExists, BundleNotFound, RevisionMoved, Store, VersionConflict
from catalog.validate import load_file
from tests.conftest import NINGXIA, ROOT

pytestmark = pytest.mark.skipif(not NINGXIA.exists(), reason="fixtures/ningxia.jsonl not built yet")


def onething(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onething", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def ningxia():
    catalog, report = load_file(NINGXIA)
    assert report.ok, report.findings[:3]
    return catalog


def test_publish_then_load_gives_the_same_catalog(db_url, ningxia):
    store = Store(db_url)
    assert store.catalog() is None and store.revision() == 0
    assert store.publish(ningxia) == 1
    loaded = store.catalog()
    assert loaded is not None
    assert loaded.records() == ningxia.records()
    assert loaded.lines == ningxia.lines  # findings from the store still point into the file
    store.dispose()


def test_import_export_round_trip_through_the_cli(db_url, tmp_path: Path):
    done = onething("import", str(NINGXIA), "--db", db_url)
    assert done.returncode == 0, done.stderr
    assert "imported" in done.stdout
    out = tmp_path / "export.jsonl"
    done = onething("export", "--db", db_url, "--out", str(out))
    assert done.returncode == 0, done.stderr
    exported = [record for _, record in read_bytes(out.read_bytes())]
    original = [record for _, record in read_bytes(NINGXIA.read_bytes())]
    assert sorted(map(msgspec.json.encode, exported)) == sorted(map(msgspec.json.encode, original))
    # Records keep the order of the file they came from.
    assert exported == original


def test_import_with_errors_changes_nothing(db_url, tmp_path: Path, ningxia):
    store = Store(db_url)
    store.publish(ningxia)
    before = store.revision()
    lines = NINGXIA.read_bytes().splitlines()
    impl_line = next(i for i, line in enumerate(lines) if b'"kind":"implementation"' in line)
    lines[impl_line] = lines[impl_line].replace(b'"promised_days":', b'"promised_days":9999,"x":', 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"\n".join(lines) + b"\n")
    done = onething("import", str(bad), "--db", db_url)
    assert done.returncode == 1
    assert "SCHEMA" in done.stdout and f"line {impl_line + 1}" in done.stdout
    assert "database is unchanged" in done.stderr
    assert store.revision() == before
    assert store.catalog().records() == ningxia.records()
    store.dispose()


def test_import_of_an_unreadable_file_exits_2(sqlite_url, tmp_path: Path):
    done = onething("import", str(tmp_path / "missing.jsonl"), "--db", sqlite_url)
    assert done.returncode == 2
    assert "cannot read" in done.stderr


def test_export_before_any_publish_says_so(sqlite_url):
    done = onething("export", "--db", sqlite_url)
    assert done.returncode == 1 and "nothing has been published" in done.stderr


def test_designer_bundles_survive_a_publish_and_must_still_hold(db_url, tmp_path: Path, ningxia):
    store = Store(db_url)
    store.publish(ningxia)
    referenced = {code for b in ningxia.bundles.values() for code in b.items}
    referenced |= {code for item in ningxia.items.values() for code in item.requires}
    referenced |= {item.main for item in ningxia.items.values() if item.main}
    loner = next(code for code in sorted(ningxia.items) if code not in referenced)
    other = next(code for code in sorted(ningxia.items) if code != loner)
    store.create_bundle(Bundle("designer-made", "设计人员新建的一件事", [loner, other]))
    store.publish(ningxia)
    assert store.bundle("designer-made").version == 1
    # A new catalog that drops one of the bundle's items is refused: the bundle would dangle.
    smaller = msgspec.structs.replace(
        ningxia,
        items={code: item for code, item in ningxia.items.items() if code != loner},
        implementations={k: m for k, m in ningxia.implementations.items() if m.item != loner},
        lines={},
    )
    path = tmp_path / "smaller.jsonl"
    path.write_bytes(b"".join(dump_lines(smaller)))
    done = onething("import", str(path), "--db", db_url)
    assert done.returncode == 1, done.stdout
    assert "designer-made" in done.stdout and "UNKNOWN_REF" in done.stdout
    assert loner in store.catalog().items
    store.dispose()


def test_bundle_versions_are_compare_and_set(db_url):
    store = Store(db_url)
    first = store.create_bundle(Bundle("b", "一件事", ["a", "b"]))
    assert first.version == 1
    with pytest.raises(BundleExists):
        store.create_bundle(Bundle("b", "again", ["a", "b"]))
    second = store.replace_bundle(Bundle("b", "改名", ["a", "b"]), if_version=1)
    assert second.version == 2
    with pytest.raises(VersionConflict) as conflict:
        store.replace_bundle(Bundle("b", "stale", ["a", "b"]), if_version=1)
    assert conflict.value.current == 2
    assert store.bundle("b").bundle.name == "改名"
    with pytest.raises(BundleNotFound):
        store.replace_bundle(Bundle("nope", "x", ["a", "b"]), if_version=1)
    with pytest.raises(VersionConflict):
        store.delete_bundle("b", if_version=1)
    store.delete_bundle("b", if_version=2)
    assert store.bundle("b") is None
    store.dispose()


def test_concurrent_writers_lose_no_update(db_url):
    """Each writer appends its mark with read-modify-write, retrying on conflict: all marks survive."""
    store = Store(db_url)
    store.create_bundle(Bundle("shared", "并发", ["a", "b"]))
    writers, rounds = 4, 5

    def writer(n: int) -> None:
        mine = Store(db_url)
        for r in range(rounds):
            while True:
                current = mine.bundle("shared")
                bundle = msgspec.structs.replace(
                    current.bundle, description=current.bundle.description + f"[{n}.{r}]"
                )
                try:
                    mine.replace_bundle(bundle, if_version=current.version)
                    break
                except VersionConflict:
                    continue
        mine.dispose()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = store.bundle("shared")
    marks = {f"[{n}.{r}]" for n in range(writers) for r in range(rounds)}
    assert all(mark in final.bundle.description for mark in marks)
    assert final.version == 1 + writers * rounds
    store.dispose()


def test_tokens_are_kept_only_as_hashes(db_url):
    store = Store(db_url)
    token = store.create_token("portal-1", "portal")
    assert store.token_role(token) == "portal"
    assert store.token_role(token + "x") is None
    with store.engine.connect() as conn:
        dump = " ".join(str(row) for row in conn.execute(sa.text("SELECT * FROM api_token")))
    assert token not in dump
    with pytest.raises(ValueError):
        store.create_token("x", "superuser")
    assert store.revoke_tokens("portal-1") == 1
    assert store.token_role(token) is None
    store.dispose()


def test_a_publish_checked_against_an_old_revision_writes_nothing(db_url, ningxia):
    store = Store(db_url)
    seen = store.revision()
    store.create_bundle(Bundle("slipped-in", "检查之后才保存的一件事", sorted(ningxia.items)[:2]))
    with pytest.raises(RevisionMoved):
        store.publish(ningxia, expected_revision=seen)
    assert store.catalog() is None and store.revision() == seen + 1
    revision, report = store.publish_checked(ningxia)  # checks again, with the new bundle kept
    assert revision == seen + 2 and report is not None and report.ok
    assert "slipped-in" in store.catalog().bundles
    store.dispose()
