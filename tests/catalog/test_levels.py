"""Revision 3 in validation: township and village codes and parents, level digits 5 and 6,
implementation channels, service_point records, and the warnings ONLINE_VISITS and
PROOF_DEMANDED — each firing, and each near miss not."""

from __future__ import annotations

import json

import msgspec
import pytest

from catalog.codes import region_code_problem, region_parent
from catalog.model import Implementation, channels_of, record_decoder, record_encoder

from .test_rules import (
    COUNTY_AGENCY,
    E1,
    A,
    B,
    _impl,
    check,
    clean_records,
    expect,
    find,
    impl_of,
    line_of,
    seen,
)

TOWN = "640104001"
VILLAGE = "640104001002"


def five_level_records() -> list[dict]:
    """The clean catalog with a street and a community of 兴庆区, an item implemented in each,
    and a service point per level."""
    records = clean_records()
    e1 = find(records, "item", E1)
    e1["levels"] = ["city", "county", "township", "village"]
    records[6:6] = [
        {"kind": "region", "code": TOWN, "name": "凤凰北街街道", "level": "township", "parent": "640104"},
        {"kind": "region", "code": VILLAGE, "name": "某社区", "level": "village", "parent": TOWN},
    ]
    records += [
        dict(_impl(e1, "640104", COUNTY_AGENCY), code=COUNTY_AGENCY + "5" + E1, region=TOWN),
        dict(_impl(e1, "640104", COUNTY_AGENCY), code=COUNTY_AGENCY + "6" + E1, region=VILLAGE,
             channels=["window", "app"]),
        {"kind": "service_point", "id": "640104-hall", "name": "兴庆区政务服务中心", "region": "640104",
         "address": "银川市兴庆区", "hours": "周一至周五", "phone": "0951-0000000",
         "location": {"lon": 106.28, "lat": 38.47},
         "windows": [{"name": "一件事综合窗口", "bundles": ["open-restaurant"], "items": []}]},
        {"kind": "service_point", "id": "640104001-center", "name": "凤凰北街街道便民服务中心", "region": TOWN,
         "address": "", "hours": "", "phone": "", "windows": [{"name": "综合窗口", "bundles": [], "items": [E1]}]},
        {"kind": "service_point", "id": "640104001002-station", "name": "某社区便民服务站", "region": VILLAGE,
         "address": "", "hours": "", "phone": "", "assists": [A, B]},
    ]  # fmt: skip
    return records


def test_five_levels_are_clean(tmp_path):
    assert seen(check(tmp_path, five_level_records())) == []


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [
        ("640104001", "township", "640104"),
        ("640104001002", "village", "640104001"),
        ("640104", "county", "640100"),
    ],
)
def test_code_shapes_and_parents(code, level, parent):
    assert region_code_problem(code, level) is None
    assert region_parent(code, level) == parent


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("6401040010", "township"),  # 10 digits
        ("6401040010", "village"),
        ("640104000", "township"),  # TTT = 000
        ("640104001000", "village"),  # VVV = 000
        ("640104000002", "village"),
        ("640100001", "township"),  # under a city, not a county
        ("640104001", "county"),
        ("64010400１", "township"),  # a full-width digit
    ],
)
def test_malformed_codes(code, level):
    assert region_code_problem(code, level) is not None


def test_a_ten_digit_code_is_region_code(tmp_path):
    records = five_level_records()
    records.insert(7, {"kind": "region", "code": "6401040010", "name": "十位街道", "level": "township",
                       "parent": "640104"})  # fmt: skip
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "REGION_CODE", "region", "6401040010")]
    assert "不是 9 位数字" in report.findings[0].message


def test_a_village_under_a_county_is_region_parent(tmp_path):
    records = five_level_records()
    find(records, "region", VILLAGE)["parent"] = "640104"
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "REGION_PARENT", "region", VILLAGE)]
    assert "640104001" in report.findings[0].message


def test_a_township_code_on_a_county_is_region_code(tmp_path):
    records = five_level_records()
    find(records, "region", TOWN)["level"] = "county"
    assert expect(records, "REGION_CODE", "region", TOWN) in seen(check(tmp_path, records))


def test_level_digits_5_and_6(tmp_path):
    records = five_level_records()
    impl_in(records, TOWN)["code"] = COUNTY_AGENCY + "3" + E1
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "IMPL_CODE", "implementation", COUNTY_AGENCY + "3" + E1)]
    assert COUNTY_AGENCY + "5" + E1 in report.findings[0].message


def test_an_item_not_for_villages_is_level(tmp_path):
    records = five_level_records()
    find(records, "item", E1)["levels"] = ["city", "county", "township"]
    assert seen(check(tmp_path, records)) == [
        expect(records, "LEVEL", "implementation", COUNTY_AGENCY + "6" + E1)
    ]


def impl_in(records: list, region: str) -> dict:
    return next(r for r in records if r.get("kind") == "implementation" and r["region"] == region)


# -- channels -----------------------------------------------------------------------------


def test_channels_default_and_round_trip():
    records = five_level_records()
    plain = msgspec.convert(impl_of(records, A), Implementation)
    assert plain.channels is None and channels_of(plain) == ["window", "online"]
    assert channels_of(msgspec.structs.replace(plain, online_depth=2)) == ["window"]
    stated = msgspec.convert(impl_in(records, VILLAGE), Implementation)
    assert channels_of(stated) == ["window", "app"]
    # a revision-2 line encodes back to the same bytes (no channels appear)
    line = json.dumps(impl_of(records, A), ensure_ascii=False, separators=(",", ":")).encode()
    assert record_encoder.encode(record_decoder.decode(line)) == line


def test_an_unknown_channel_is_schema(tmp_path):
    records = five_level_records()
    impl_in(records, VILLAGE)["channels"] = ["window", "fax"]
    report = check(tmp_path, records)
    assert [f.rule for f in report.findings] == ["SCHEMA"]


# -- service points -----------------------------------------------------------------------


def test_service_point_unknown_refs(tmp_path):
    records = five_level_records()
    point = find(records, "service_point", "640104001-center")
    point["region"] = "640104099"
    point["windows"] = [{"name": "综合窗口", "bundles": ["no-such-bundle"], "items": ["000100099000"]}]
    point["assists"] = ["000100098000"]
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "UNKNOWN_REF", "service_point", "640104001-center")] * 4
    messages = " ".join(f.message for f in report.findings)
    for what in ("640104099", "no-such-bundle", "000100099000", "000100098000"):
        assert what in messages


def test_service_point_duplicate_and_schema(tmp_path):
    records = five_level_records()
    records.append(dict(find(records, "service_point", "640104-hall"), name="又一个"))
    records.append(dict(find(records, "service_point", "640104001-center"), id="x", floor=2))
    report = check(tmp_path, records)
    assert [(f.rule, f.kind, f.key) for f in report.findings] == [
        ("DUPLICATE", "service_point", "640104-hall"),
        ("SCHEMA", "service_point", "x"),
    ]



def test_service_point_before_what_it_refers_to(tmp_path):
    """A point read before its bundle and items is checked at the end like one read after them
    (a run that keeps nothing holds only a stub of a point whose references it knows)."""
    records = five_level_records()
    points = [r for r in records if r["kind"] == "service_point"]
    rest = [r for r in records if r["kind"] != "service_point"]
    header, regions = rest[:1], [r for r in rest if r["kind"] == "region"]
    others = [r for r in rest[1:] if r["kind"] != "region"]
    assert seen(check(tmp_path, header + regions + points + others)) == []
    points[1]["windows"] = [{"name": "综合窗口", "bundles": [], "items": ["000100099000"]}]
    reordered = header + regions + points + others
    assert seen(check(tmp_path, reordered)) == [
        expect(reordered, "UNKNOWN_REF", "service_point", "640104001-center")
    ]


def test_duplicate_of_a_settled_service_point_names_the_first(tmp_path):
    records = five_level_records()
    first = find(records, "service_point", "640104001-center")
    records.append(dict(first, name="又一个"))
    report = check(tmp_path, records)
    [duplicate] = report.findings
    assert duplicate.rule == "DUPLICATE" and duplicate.line == len(records)
    assert first["name"] in duplicate.message
    assert f"第 {line_of(records, 'service_point', first['id'])} 行" in duplicate.message

# -- the warnings -------------------------------------------------------------------------


def test_online_visits(tmp_path):
    records = five_level_records()
    impl_of(records, A).update(online_depth=4, visits=1)
    assert seen(check(tmp_path, records)) == [
        expect(records, "ONLINE_VISITS", "implementation", impl_of(records, A)["code"])
    ]
    impl_of(records, A).update(online_depth=4, visits=0)
    assert seen(check(tmp_path, records)) == []
    impl_of(records, A).update(online_depth=3, visits=2)
    assert seen(check(tmp_path, records)) == []


def _proof_records(**flags) -> list[dict]:
    records = five_level_records()
    records.insert(10, {"kind": "material", "id": "residence-proof", "name": "居住证明",
                        "category": "certificate", **flags})  # fmt: skip
    find(records, "item", A)["materials"].append({"req": "residence", "any_of": ["residence-proof"]})
    return records


def test_proof_demanded(tmp_path):
    records = _proof_records()
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "PROOF_DEMANDED", "implementation", impl_of(records, A)["code"])]
    assert "residence" in report.findings[0].message
    # the same with the dictionary after the implementation (a forward reference)
    material = records.pop(10)
    records.append(material)
    assert seen(check(tmp_path, records)) == [
        expect(records, "PROOF_DEMANDED", "implementation", impl_of(records, A)["code"])
    ]


@pytest.mark.parametrize("flag", ["retained", "e_license", "commitment"])
def test_a_proof_that_may_be_asked_is_no_finding(tmp_path, flag):
    assert seen(check(tmp_path, _proof_records(**{flag: True}))) == []


def test_a_proof_with_another_way_or_optional_is_no_finding(tmp_path):
    records = _proof_records()
    find(records, "item", A)["materials"][-1]["any_of"].append("lease-contract")
    assert seen(check(tmp_path, records)) == []
    records = _proof_records()
    find(records, "item", A)["materials"][-1]["optional"] = True
    assert seen(check(tmp_path, records)) == []
    records = _proof_records()  # the implementation drops the requirement (只减不增)
    impl_of(records, A)["materials"] = [{"req": "identity", "any_of": ["id-card", "passport"]}]
    assert seen(check(tmp_path, records)) == []


def test_service_points_and_channels_in_cpsv_ap(tmp_path):
    from catalog.cpsv.graph import CPSV, GEO, LOCN, M8G, iri, nodes
    from catalog.validate import load_file

    from .test_rules import write

    catalog, _ = load_file(write(tmp_path / "c.jsonl", five_level_records()))
    out = {n.id: n for n in nodes(catalog.records()[:1] + catalog.records()[1:])}
    hall = out[iri("service-point", "640104-hall")]
    assert hall.types == (M8G + "Channel",)
    props = dict(hall.props)
    assert props[LOCN + "geometry"].value == "POINT(106.28 38.47)"
    assert props[LOCN + "geometry"].datatype == GEO + "wktLiteral"
    assert out[props[LOCN + "address"]].props[0][1].value == "银川市兴庆区"
    village = next(
        n
        for n in out.values()
        if CPSV + "PublicService" in n.types
        and dict(n.props).get("http://purl.org/dc/terms/spatial") == iri("region", VILLAGE)
    )
    assert iri("implementation", dict(village.props)["http://purl.org/dc/terms/identifier"].value, "app") in [
        o for p, o in village.props if p == M8G + "hasChannel"
    ]


def test_statistics_per_level_with_mobile_share_and_service_points(tmp_path):
    from catalog.stats import implementation_stats
    from catalog.validate import load_file

    from .test_rules import write

    catalog, _ = load_file(write(tmp_path / "c.jsonl", five_level_records()))
    figures = implementation_stats(
        catalog.regions, catalog.items, catalog.implementations.values(), None, catalog.service_points
    )
    rows = {r.region: r for r in figures.regions}
    assert (rows["640104"].service_points, rows["640104"].service_points_total) == (1, 3)
    assert (rows[TOWN].service_points, rows[TOWN].service_points_total) == (1, 2)
    assert rows["640100"].service_points_total == 3 and rows["640100"].service_points == 0
    assert rows[VILLAGE].own.mobile == 1 and rows["640104"].total.mobile == 1
    levels = {lv.level: lv for lv in figures.levels}
    assert [lv.level for lv in figures.levels] == [
        "national",
        "province",
        "city",
        "county",
        "township",
        "village",
    ]
    assert (
        levels["township"].regions,
        levels["township"].own.implementations,
        levels["township"].service_points,
    ) == (
        1,
        1,
        1,
    )
    assert (
        levels["county"].own.implementations
        == rows["640104"].own.implementations + rows["649001"].own.implementations
    )
    assert sum(lv.own.implementations for lv in figures.levels) == len(catalog.implementations)
