"""A first publish's validation checks what stands below the county — townships, villages, their
service points and implementations, half a million of each at national scale — a few counties
at a time (`validate_for_publish` with `below`, `Run.county`): it must say exactly what one
pass over the whole file says, and the publish must write what it sent apart."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

from catalog import apart
from catalog.store import Refused, Store

from .test_levels import TOWN, VILLAGE, five_level_records
from .test_rules import E1, check, find, for_publish, seen, uscc, write

OTHER_COUNTY = "649001"
OTHER_TOWN = "649001100"
OTHER_VILLAGE = "649001100200"


def two_counties() -> list[dict]:
    """The five-level catalog with a township, a village and their points in a second county."""
    records = five_level_records()
    town_impl = next(r for r in records if r.get("kind") == "implementation" and r.get("region") == TOWN)
    agency = uscc("1649001MB0000009")
    records += [
        {"kind": "region", "code": OTHER_TOWN, "name": "某镇", "level": "township", "parent": OTHER_COUNTY},
        {"kind": "region", "code": OTHER_VILLAGE, "name": "某村", "level": "village", "parent": OTHER_TOWN},
        dict(town_impl, region=OTHER_TOWN, code=agency + "5" + E1, agency={"name": "某镇人民政府", "uscc": agency}),
        {"kind": "service_point", "id": "649001100-center", "name": "某镇便民服务中心", "region": OTHER_TOWN,
         "address": "", "hours": "", "phone": "", "windows": [{"name": "综合窗口", "bundles": [], "items": [E1]}]},
    ]  # fmt: skip
    return records


def spooled_apart(*codes: str) -> bool:
    """Whether the counties of `codes` land in different scratch files of 64 (`Spool.add`)."""
    return len({zlib.crc32(code[:6].encode()) % 64 for code in codes}) == len(codes)


def test_two_counties_apart_say_what_one_pass_says(tmp_path: Path) -> None:
    assert spooled_apart(TOWN, OTHER_TOWN)
    path = write(tmp_path / "catalog.jsonl", two_counties())
    report = check(tmp_path, two_counties())
    assert report.summary.errors == 0
    assert for_publish(path, counties=64) == report
    assert {c.region for c in report.conformity} >= {TOWN, VILLAGE, OTHER_TOWN}


def test_defects_below_the_county_apart(tmp_path: Path) -> None:
    """A ten-digit village, a village under a county, a village before its township, an
    implementation and a service point in a village nobody defined, a village given twice, a
    bundle offered in a village: each finding as one pass finds it, and no other."""
    records = two_counties()
    village = find(records, "region", VILLAGE)
    records += [
        {"kind": "region", "code": "6490011002", "name": "十位", "level": "village", "parent": OTHER_TOWN},
        {"kind": "region", "code": "649001100300", "name": "挂错", "level": "village", "parent": OTHER_COUNTY},
        dict(village, name="又一个"),
        {"kind": "service_point", "id": "nowhere-station", "name": "无处", "region": "649001100999",
         "address": "", "hours": "", "phone": ""},
    ]  # fmt: skip
    impl = next(r for r in records if r.get("kind") == "implementation" and r.get("region") == VILLAGE)
    stranger = uscc("1649001MB0000010")
    nowhere = stranger + "6" + E1
    records.append(
        dict(impl, region="649001100999", code=nowhere, agency={"name": "某村委会", "uscc": stranger})
    )
    early = {
        "kind": "region",
        "code": "649001101001",
        "name": "先到",
        "level": "village",
        "parent": "649001101",
    }
    records.insert(8, early)  # before its township, which comes last
    records.append(
        {"kind": "region", "code": "649001101", "name": "后到", "level": "township", "parent": OTHER_COUNTY}
    )
    find(records, "bundle", "open-restaurant")["regions"] = [OTHER_VILLAGE]
    report = check(tmp_path, records)
    path = write(tmp_path / "catalog.jsonl", records)
    assert for_publish(path, counties=64) == report
    rules = {(rule, kind, key) for rule, _, kind, key, _ in seen(report)}
    assert ("REGION_CODE", "region", "6490011002") in rules
    assert ("REGION_PARENT", "region", "649001100300") in rules
    assert ("DUPLICATE", "region", VILLAGE) in rules
    assert ("UNKNOWN_REF", "service_point", "nowhere-station") in rules
    assert ("UNKNOWN_REF", "implementation", nowhere) in rules
    assert not any(key in ("649001101001", "open-restaurant") for _, _, key in rules)


def test_a_service_point_id_in_two_counties_is_refused(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked a county at a time, the validation cannot see an id repeated in another
    county's file: the publish finds it writing the points, refuses, and names the first line."""
    monkeypatch.setattr(apart, "COUNTY_SPOOL", 1)  # every county in a file of its own (64)
    records = two_counties()
    again = dict(find(records, "service_point", "640104001-center"), region=OTHER_TOWN)
    records.append(again)
    path = write(tmp_path / "catalog.jsonl", records)
    store = Store(db_url)
    with pytest.raises(Refused) as refused:
        store.publish_file(path, by="test")
    [duplicate] = refused.value.findings
    first = next(n for n, r in enumerate(records, 1) if r.get("id") == "640104001-center")
    assert (duplicate.rule, duplicate.kind, duplicate.key, duplicate.line) == (
        "DUPLICATE",
        "service_point",
        "640104001-center",
        len(records),
    )
    assert f"第 {first} 行" in duplicate.message
    assert store.revision() == 0
    store.dispose()


def test_the_publish_writes_what_was_sent_apart(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Conformity and figures of townships and villages, checked in files of their own."""
    monkeypatch.setattr(apart, "COUNTY_SPOOL", 1)
    path = write(tmp_path / "catalog.jsonl", two_counties())
    store = Store(db_url)
    published = store.publish_file(path, by="test")
    written = {c.region: c for c in store.conformity(published.version)}
    whole = {c.region: c for c in check(tmp_path, two_counties()).conformity}
    assert written == whole
    assert {TOWN, VILLAGE, OTHER_TOWN} <= set(written)
    store.dispose()
