"""Revision 3 in the store: service points published and read back with the small records (so
a workflow's slice carries them), townships and villages as regions, and a township's list as a
partial submission of its subtree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bundler.workflow import compose
from catalog.store import Refused, Store
from catalog.validate import load_file

from .test_levels import TOWN, VILLAGE, five_level_records
from .test_rules import E1, GROUP_AGENCY, _impl, find, write


def _partial(path: Path, records: list[dict], region_prefix: str) -> Path:
    lines = [records[0]] + [
        r for r in records if r.get("kind") == "implementation" and r["region"].startswith(region_prefix)
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n", encoding="utf-8")
    return path


def test_service_points_and_five_levels_publish_and_read_back(db_url, tmp_path):
    records = five_level_records()
    path = write(tmp_path / "v1.jsonl", records)
    catalog, report = load_file(path)
    assert report.summary.errors == 0
    store = Store(db_url)
    published = store.publish_file(path)
    assert published.version == 1
    small = store.dictionaries(1)
    assert small.service_points == catalog.service_points and len(small.service_points) == 3
    assert small.lines["service_point"] == catalog.lines["service_point"]
    assert {small.regions[c].level for c in (TOWN, VILLAGE)} == {"township", "village"}
    # the slice a workflow reads: the small records (service points among them) and the items'
    # implementations along the chain
    chain = [VILLAGE, TOWN, "640104", "640100", "640000", "000000"]
    impls = store.implementations(1, regions=chain, items=[E1])
    part = small
    part.implementations = {i.code: i for i in impls}
    flow = compose(part, [E1], VILLAGE)
    assert [s.region for s in flow.steps] == [VILLAGE]
    assert [p.id for p in flow.service_points] == ["640104001-center"]
    assert b"".join(store.export(1)).count(b'"kind":"service_point"') == 3

    # a street's list is a partial submission of its subtree: the street and its communities
    village = next(r for r in records if r.get("kind") == "implementation" and r["region"] == VILLAGE)
    village["window"] = "社区便民服务站全科窗口"
    town = next(r for r in records if r.get("kind") == "implementation" and r["region"] == TOWN)
    records.remove(town)
    again = store.publish_file(_partial(tmp_path / "street.jsonl", records, TOWN), region=TOWN)
    assert (again.version, again.added, again.changed, again.removed) == (2, 0, 1, 1)
    assert store.versions()[-1].region == TOWN
    left = {i.region: i for i in store.implementations(2, regions=[TOWN, VILLAGE])}
    assert set(left) == {VILLAGE} and left[VILLAGE].window == "社区便民服务站全科窗口"
    assert store.dictionaries(2).service_points == catalog.service_points  # untouched by a partial
    store.dispose()


def test_a_service_point_in_a_partial_is_scope(sqlite_url, tmp_path):
    records = five_level_records()
    store = Store(sqlite_url)
    store.publish_file(write(tmp_path / "v1.jsonl", records))
    path = _partial(tmp_path / "street.jsonl", records, TOWN)
    point = next(r for r in records if r.get("kind") == "service_point" and r["region"] == TOWN)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(point, ensure_ascii=False) + "\n")
    with pytest.raises(Refused) as refused:
        store.publish_file(path, region=TOWN)
    assert {f.rule for f in refused.value.findings} == {"SCOPE"}
    store.dispose()


def test_a_changed_service_point_is_checked_on_republish(sqlite_url, tmp_path):
    records = five_level_records()
    store = Store(sqlite_url)
    store.publish_file(write(tmp_path / "v1.jsonl", records))
    point = next(r for r in records if r.get("kind") == "service_point" and r["region"] == TOWN)
    point["assists"] = ["000100099000"]
    with pytest.raises(Refused) as refused:
        store.publish_file(write(tmp_path / "v2.jsonl", records))
    assert [(f.rule, f.kind, f.key) for f in refused.value.findings] == [
        ("UNKNOWN_REF", "service_point", point["id"])
    ]
    point["assists"] = []
    point["hours"] = "周一至周五 9:00-17:00"
    published = store.publish_file(write(tmp_path / "v3.jsonl", records))
    assert (published.version, published.changed) == (2, 1)
    assert store.dictionaries(2).service_points[point["id"]].hours == "周一至周五 9:00-17:00"
    assert "service_point" in store.diff(1, 2).changed
    store.dispose()


def test_a_service_point_broken_by_a_change_elsewhere_needs_review_in_its_region(db_url, tmp_path):
    records = five_level_records()
    withdrawn = "000100003000"  # 食品经营许可延续: in no bundle
    station = next(r for r in records if r.get("kind") == "service_point" and r["region"] == VILLAGE)
    station["assists"] = [*station["assists"], withdrawn]
    store = Store(db_url)
    store.publish_file(write(tmp_path / "v1.jsonl", records))
    # the nation withdraws an item the community's station assists with (and its implementation)
    records = [
        r
        for r in records
        if not (r.get("kind") == "item" and r["code"] == withdrawn)
        and not (r.get("kind") == "implementation" and r["item"] == withdrawn)
    ]
    published = store.publish_file(write(tmp_path / "v2.jsonl", records))
    assert published.version == 2 and published.needs_review == 1
    version, flags = store.review(region=VILLAGE)
    assert version == 2 and [(f.kind, f.key, f.region) for f in flags] == [
        ("service_point", station["id"], VILLAGE)
    ]
    assert [x.rule for x in flags[0].findings] == ["UNKNOWN_REF"]
    store.dispose()


def test_an_items_implementations_are_listed_by_level_down_to_the_village(db_url, tmp_path):
    """Townships and villages are levels 5 and 6, after every county, whether a row came in with
    the first publish or a later one."""
    records = five_level_records()
    records.append(_impl(find(records, "item", E1), "649001", GROUP_AGENCY))  # a county after 640104001
    store = Store(db_url)
    store.publish_file(write(tmp_path / "v1.jsonl", records))
    _, listed = store.item_implementations(1, E1, limit=100)
    regions = [impl.region for impl, _ in listed]
    assert regions == ["640104", "649001", TOWN, VILLAGE]
    village = next(r for r in records if r.get("kind") == "implementation" and r["region"] == VILLAGE)
    village["window"] = "社区便民服务站全科窗口"  # a new row for the village in version 2
    assert store.publish_file(write(tmp_path / "v2.jsonl", records)).changed == 1
    _, listed = store.item_implementations(2, E1, limit=100)
    assert [impl.region for impl, _ in listed] == regions
    store.dispose()
