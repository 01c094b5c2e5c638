"""Spec §6 on SQLite and PostgreSQL: partial submissions by region, SCOPE, the touched-record
publish rule, needs-review flags that clear where fixed, `--version`, diff and review."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from catalog.load import dump_lines
from catalog.model import Catalog, record_encoder
from catalog.store import Refused, Store
from catalog.validate import load_file
from tests.conftest import NINGXIA, onething

COUNTY = "640104"  # 兴庆区
OTHER = "640105"  # 西夏区
ITEM = "000700104000"  # 国(境)内出生登记


@pytest.fixture(scope="module")
def ningxia() -> Catalog:
    catalog, report = load_file(NINGXIA)
    assert report.ok
    return catalog


def partial(path: Path, catalog: Catalog, region: str, impls: dict | None = None, extra=()) -> Path:
    """The header and the implementations of one county: a region's submission (§6)."""
    impls = catalog.implementations if impls is None else impls
    lines = [record_encoder.encode(catalog.header) + b"\n"]
    lines += [record_encoder.encode(i) + b"\n" for c, i in sorted(impls.items()) if i.region == region]
    lines += [record_encoder.encode(r) + b"\n" for r in extra]
    path.write_bytes(b"".join(lines))
    return path


def whole(path: Path, catalog: Catalog) -> Path:
    path.write_bytes(b"".join(dump_lines(msgspec.structs.replace(catalog, lines={}))))
    return path


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    s.publish_file(NINGXIA)
    yield s
    s.dispose()


def test_a_partial_submission_changes_only_its_subtree(store, tmp_path, ningxia):
    impls = dict(ningxia.implementations)
    mine = sorted(c for c, i in impls.items() if i.region == COUNTY)
    impls[mine[0]] = msgspec.structs.replace(impls[mine[0]], window="兴庆区政务服务中心二楼", promised_days=0)
    dropped = mine[1]
    del impls[dropped]
    published = store.publish_file(
        partial(tmp_path / "p.jsonl", ningxia, COUNTY, impls), region=COUNTY, note="兴庆区调整"
    )
    assert (published.version, published.added, published.changed, published.removed) == (2, 0, 1, 1)
    assert store.versions()[-1].region == COUNTY
    now = store.catalog()
    assert now.implementations == impls  # every other region's rows as they were
    assert now.items == ningxia.items and now.regions == ningxia.regions


def test_an_error_in_a_touched_record_refuses_a_partial_and_changes_nothing(store, tmp_path, ningxia):
    impls = dict(ningxia.implementations)
    code = min(c for c, i in impls.items() if i.region == COUNTY)
    impls[code] = msgspec.structs.replace(impls[code], name=impls[code].name + "（兴庆）")
    with pytest.raises(Refused) as refused:
        store.publish_file(partial(tmp_path / "p.jsonl", ningxia, COUNTY, impls), region=COUNTY)
    assert {(f.rule, f.key) for f in refused.value.findings} == {("FOUR_SAME_NAME", code)}
    assert store.revision() == 1 and store.catalog().implementations == ningxia.implementations


def test_scope_refuses_a_stray_record(store, tmp_path, ningxia):
    outside = next(i for i in ningxia.implementations.values() if i.region == OTHER)
    item = next(iter(ningxia.items.values()))
    path = partial(tmp_path / "p.jsonl", ningxia, COUNTY, extra=[outside, item])
    with pytest.raises(Refused) as refused:
        store.publish_file(path, region=COUNTY)
    assert {(f.rule, f.kind, f.key) for f in refused.value.findings} == {
        ("SCOPE", "implementation", outside.code),
        ("SCOPE", "item", item.code),
    }
    assert store.revision() == 1


def test_a_regions_fix_clears_its_own_flags_only(store, tmp_path, ningxia):
    items = dict(ningxia.items)
    new_name = items[ITEM].name + "（新）"
    items[ITEM] = msgspec.structs.replace(items[ITEM], name=new_name)
    renamed = msgspec.structs.replace(ningxia, items=items)
    published = store.publish_file(whole(tmp_path / "v2.jsonl", renamed))
    flagged = sorted(c for c, i in ningxia.implementations.items() if i.item == ITEM)
    assert published.needs_review == len(flagged)
    version, queue = store.review()
    assert version == 2 and [f.key for f in queue] == flagged
    assert all(
        f.cause == {"item": ITEM, "changed": {"name": [ningxia.items[ITEM].name, new_name]}} for f in queue
    )
    assert all([x.rule for x in f.findings] == ["FOUR_SAME_NAME"] for f in queue)
    # 兴庆区 brings its implementation in line with a partial submission: its flag clears.
    impls = dict(ningxia.implementations)
    fixed = [c for c in flagged if impls[c].region == COUNTY]
    assert fixed
    for code in fixed:
        impls[code] = msgspec.structs.replace(impls[code], name=new_name)
    published = store.publish_file(partial(tmp_path / "p.jsonl", renamed, COUNTY, impls), region=COUNTY)
    assert published.needs_review == len(flagged) - len(fixed)
    _, queue = store.review()
    assert [f.key for f in queue] == [c for c in flagged if c not in fixed]
    assert queue[0].cause["item"] == ITEM  # the cause carries on while the flag stands
    _, mine = store.review(region=COUNTY)
    assert mine == []
    _, city = store.review(region="640100")
    assert {f.region for f in city} <= {"640100", "640105", "640106", "640121", "640122", "640181"}


def test_republishing_version_1_makes_a_new_version_equal_to_it(store, tmp_path, ningxia):
    impls = dict(ningxia.implementations)
    for code in sorted(impls)[:3]:
        impls[code] = msgspec.structs.replace(impls[code], window="新窗口")
    store.publish_file(whole(tmp_path / "v2.jsonl", msgspec.structs.replace(ningxia, implementations=impls)))
    published = store.republish(1, by="tester")
    assert (published.version, published.changed) == (3, 3)
    assert store.versions()[-1].note == "version 1 again"
    assert store.catalog(3).records() == store.catalog(1).records()
    assert store.diff(1, 3).changed == {} and store.diff(1, 3).added == {}


def test_diff_names_what_changed_field_by_field(store, tmp_path, ningxia):
    items = dict(ningxia.items)
    items[ITEM] = msgspec.structs.replace(
        items[ITEM], name="新名称", statutory_days=items[ITEM].statutory_days
    )
    impls = dict(ningxia.implementations)
    gone = min(impls)
    del impls[gone]
    code = sorted(impls)[1]
    impls[code] = msgspec.structs.replace(impls[code], window="二楼")
    catalog = msgspec.structs.replace(ningxia, items=items, implementations=impls)
    store.publish_file(whole(tmp_path / "v2.jsonl", catalog))
    found = json.loads(msgspec.json.encode(store.diff(1, 2)))
    assert found["from"] == 1 and found["to"] == 2
    assert found["removed"] == {"implementation": [gone]}
    assert found["changed"]["item"] == {ITEM: {"name": [ningxia.items[ITEM].name, "新名称"]}}
    assert found["changed"]["implementation"][code] == {
        "window": [ningxia.implementations[code].window or None, "二楼"]
    }


def test_the_lifecycle_commands_speak_the_spec_json(db_url, tmp_path, ningxia):
    assert onething("publish", str(NINGXIA), "--db", db_url, "--json").returncode == 0
    items = dict(ningxia.items)
    items[ITEM] = msgspec.structs.replace(items[ITEM], name=items[ITEM].name + "（新）")
    path = whole(tmp_path / "v2.jsonl", msgspec.structs.replace(ningxia, items=items))
    done = onething("publish", str(path), "--db", db_url, "--note", "国家事项更名", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["version"] == 2 and result["changed"] == 1 and result["needs_review"] > 0
    review = json.loads(onething("review", "--db", db_url, "--region", COUNTY, "--json").stdout)
    assert review["version"] == 2
    [flag] = [f for f in review["needs_review"] if f["region"] == COUNTY]
    assert flag["kind"] == "implementation" and flag["cause"]["item"] == ITEM
    assert flag["findings"][0]["rule"] == "FOUR_SAME_NAME"
    diff = json.loads(onething("diff", "1", "2", "--db", db_url, "--json").stdout)
    assert list(diff["changed"]["item"]) == [ITEM]
    versions = json.loads(onething("versions", "--db", db_url, "--json").stdout)["versions"]
    assert [v["note"] for v in versions] == ["", "国家事项更名"]
    done = onething("publish", "--version", "1", "--db", db_url, "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["version"] == 3
    bad = partial(tmp_path / "p.jsonl", ningxia, COUNTY, extra=[next(iter(ningxia.items.values()))])
    done = onething("publish", str(bad), "--region", COUNTY, "--db", db_url, "--json")
    assert done.returncode == 1 and json.loads(done.stdout)["findings"][0]["rule"] == "SCOPE"
    assert onething("publish", "--db", db_url).returncode == 2
    assert onething("diff", "1", "9", "--db", db_url).returncode == 2


def test_four_eyes_in_the_store_the_submitter_cannot_approve(store, tmp_path, ningxia):
    from catalog.store import OwnSubmission

    impls = {
        c: msgspec.structs.replace(i, promised_days=0) if i.region == COUNTY else i
        for c, i in ningxia.implementations.items()
    }
    held, _ = store.submit(
        partial(tmp_path / "p.jsonl", ningxia, COUNTY, impls),
        by="兴庆区审查员",
        note="压缩时限",
        region=COUNTY,
        max_bytes=1 << 24,
    )
    with pytest.raises(OwnSubmission):
        store.approve(held.id, by="兴庆区审查员")
    assert store.revision() == 1 and store.submission(held.id)[0].state == "pending"

    # An override (an admin's: the caller checks the role) approves, and the audit says so.
    store.approve(held.id, by="兴庆区审查员", override=True)
    assert store.revision() == 2 and store.submission(held.id)[0].decided_by == "兴庆区审查员"
    assert store.versions()[-1].note == f"压缩时限（提交 #{held.id}，提交人 兴庆区审查员）"
    events = {e.action: e for e in store.audit(limit=5)[1]}
    assert events["approve.override"].detail["submitter"] == "兴庆区审查员"

    # Someone else approves without an override, and no override is written.
    again, _ = store.submit(
        partial(tmp_path / "q.jsonl", ningxia, COUNTY), by="兴庆区审查员", region=COUNTY, max_bytes=1 << 24
    )
    store.approve(again.id, by="银川市审查员")
    assert store.versions()[-1].note == f"提交 #{again.id}，提交人 兴庆区审查员"
    overrides = [e for e in store.audit(limit=20)[1] if e.action == "approve.override"]
    assert len(overrides) == 1
