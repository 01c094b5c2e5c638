"""Every rule of §3: a small clean catalog has no finding; each rule has one test that
triggers it (rule, severity, kind, key, line — and nothing else) and one near miss that must not."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog.codes import uscc_check_char
from catalog.findings import RULES, Report
from catalog.model import Bundle
from catalog.validate import (
    bundle_findings,
    load_bytes,
    load_file,
    sent_apart,
    validate,
    validate_file,
    validate_for_publish,
)

A = "000100001000"  # 营业执照: national, outputs the business license
B = "000100002000"  # 食品经营许可: needs A's output
C = "000100003000"  # 食品经营许可延续: a renewal needing its own output
D = "642000004000"  # a Ningxia item (owner 640000), county level
E = "000700005000"  # a main item ...
E1 = "000700005001"  # ... and its sub-item


def uscc(body16: str) -> str:
    """A valid USCC: '1' + a 16-character body + its check character."""
    body = "1" + body16
    return body + uscc_check_char(body)


CITY_AGENCY = uscc("1640100MB0000001")
COUNTY_AGENCY = uscc("1640104MB0000002")
GROUP_AGENCY = uscc("1649001MB0000003")

LEVEL_DIGIT = {"000000": "1", "640000": "2", "640100": "3", "640104": "4", "649000": "3", "649001": "4"}


def _item(
    code,
    name,
    type_,
    *,
    owner="000000",
    levels=("city", "county"),
    materials=(),
    outputs=(),
    requires=(),
    main=None,
    basis=None,
    days=20,
):
    return {
        "kind": "item",
        "code": code,
        "name": name,
        "type": type_,
        "basis": basis or [f"《{name}条例》第三条"],
        "owner": owner,
        "main": main,
        "levels": list(levels),
        "materials": [dict(m) for m in materials],
        "outputs": list(outputs),
        "requires": list(requires),
        "fields": ["applicant.name", "applicant.id_number"],
        "statutory_days": days,
    }


def _impl(item: dict, region: str, agency: str, **extra):
    rec = {
        "kind": "implementation",
        "code": agency + LEVEL_DIGIT[region] + item["code"],
        "item": item["code"],
        "region": region,
        "agency": {"name": f"{region}政务服务管理局", "uscc": agency},
        "name": item["name"],
        "type": item["type"],
        "basis": list(item["basis"]),
        "statutory_days": item["statutory_days"],
        "promised_days": 5,
        "visits": 1,
        "online_depth": 3,
    }
    rec.update(extra)
    return rec


IDENTITY = {"req": "identity", "any_of": ["id-card", "passport"]}


def _rec(kind: str, **fields) -> dict:
    return {"kind": kind, **fields}


def clean_records() -> list[dict]:
    """A small catalog that breaks no rule, with every near miss of a rule built in."""
    a = _item(
        A,
        "营业执照核发",
        "01",
        levels=("province", "city", "county"),
        materials=[IDENTITY],
        outputs=["business-license"],
    )
    b = _item(
        B,
        "食品经营许可",
        "01",
        materials=[
            IDENTITY,
            {"req": "premises", "any_of": ["property-cert", "lease-contract"]},
            {"req": "layout", "any_of": ["premises-layout"], "optional": True},
            {"req": "license", "any_of": ["business-license"]},
        ],
        outputs=["food-business-license"],
        basis=["《中华人民共和国食品安全法》第三十五条", "《食品经营许可管理办法》第二条"],
    )
    c = _item(
        C,
        "食品经营许可延续",
        "01",
        materials=[IDENTITY, {"req": "old", "any_of": ["food-business-license"]}],
        outputs=["food-business-license"],
    )
    d = _item(D, "地方特色服务", "20", owner="640000", levels=("county",), materials=[IDENTITY])
    e = _item(E, "户籍确认", "07", materials=[IDENTITY])
    e1 = _item(E1, "户籍确认（迁入）", "07", main=E, materials=[IDENTITY])
    return [
        {"kind": "catalog", "format": "onething-catalog/1", "version": "2026.11", "title": "测试目录"},
        {"kind": "region", "code": "000000", "name": "全国", "level": "national", "parent": None},
        _rec("region", code="640000", name="宁夏回族自治区", level="province", parent="000000"),
        {"kind": "region", "code": "640100", "name": "银川市", "level": "city", "parent": "640000"},
        {"kind": "region", "code": "640104", "name": "兴庆区", "level": "county", "parent": "640100"},
        _rec("region", code="649000", name="自治区直辖县级行政区划", level="city", parent="640000"),
        {"kind": "region", "code": "649001", "name": "某县", "level": "county", "parent": "649000"},
        _rec(
            "material",
            id="id-card",
            name="居民身份证",
            category="identity",
            aliases=["身份证"],
            e_license=True,
        ),
        {"kind": "material", "id": "passport", "name": "护照", "category": "identity"},
        {"kind": "material", "id": "property-cert", "name": "不动产权证书", "category": "license"},
        {"kind": "material", "id": "lease-contract", "name": "租赁合同", "category": "contract"},
        {"kind": "material", "id": "premises-layout", "name": "经营场所平面图", "category": "other"},
        _rec("material", id="business-license", name="营业执照", category="license", e_license=True),
        {"kind": "material", "id": "food-business-license", "name": "食品经营许可证", "category": "license"},
        {"kind": "field", "id": "applicant.name", "label": "申请人姓名", "type": "text"},
        {"kind": "field", "id": "applicant.id_number", "label": "身份证号码", "type": "id_number"},
        _rec("field", id="business.kind", label="经营类别", type="choice", choices=["餐饮", "零售"]),
        a,
        b,
        c,
        d,
        e,
        e1,
        _impl(a, "640100", CITY_AGENCY),
        # only reduces: drops an alternative, drops the optional layout, marks premises optional;
        # its basis differs from the item's only by order and surrounding spaces.
        _impl(
            b,
            "640104",
            COUNTY_AGENCY,
            basis=["  《食品经营许可管理办法》第二条", "《中华人民共和国食品安全法》第三十五条 "],
            materials=[
                {"req": "identity", "any_of": ["id-card"]},
                {"req": "premises", "any_of": ["property-cert", "lease-contract"], "optional": True},
                {"req": "license", "any_of": ["business-license"]},
            ],
            promised_days=20,
        ),
        _impl(c, "640104", COUNTY_AGENCY, materials=[]),
        _impl(d, "649001", GROUP_AGENCY),  # a county under a PP90XX grouping city, inside its province
        _impl(e1, "640104", COUNTY_AGENCY),  # implements the main item E through its sub-item
        {
            "kind": "bundle",
            "id": "open-restaurant",
            "name": "开办餐饮店一件事",
            "items": [A, B],
            "description": "营业执照、食品经营许可一次办",
        },
    ]


def write(path: Path, records: list) -> Path:
    """One record per line; a str is written as the raw line (for broken JSON)."""
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def line_of(records: list, kind: str, key: str) -> int:
    keyname = {"region": "code", "item": "code", "implementation": "code"}.get(kind, "id")
    for number, r in enumerate(records, 1):
        if isinstance(r, dict) and r.get("kind") == kind and r.get(keyname) == key:
            return number
    raise KeyError((kind, key))


def find(records: list, kind: str, key: str) -> dict:
    return records[line_of(records, kind, key) - 1]


def impl_of(records: list, item: str) -> dict:
    return next(
        r for r in records if isinstance(r, dict) and r.get("kind") == "implementation" and r["item"] == item
    )


def check(tmp_path: Path, records: list) -> Report:
    """Run all three entry points on the same file and insist they agree."""
    path = write(tmp_path / "catalog.jsonl", records)
    streamed = validate_file(path)
    catalog, loaded = load_file(path)
    assert loaded == streamed
    assert load_bytes(path.read_bytes())[1] == streamed
    if not {f.rule for f in streamed.findings} & {"SCHEMA", "DUPLICATE", "HEADER"}:
        # what a file says about order and repeats the in-memory catalog cannot know
        assert validate(catalog) == streamed
    if not any(f.rule == "DUPLICATE" and f.kind == "implementation" for f in streamed.findings):
        # a first publish's validation (which leaves those to the database) says the same, whole
        # and with what stands below the county checked a county at a time
        assert for_publish(path) == streamed
        assert for_publish(path, counties=3) == streamed
    return streamed


def for_publish(path: Path, counties: int | None = None) -> Report:
    """`validate_for_publish`'s report, with the conformity it sends apart (`counties`) put back."""
    with open(path, "rb") as fh:
        if counties is None:
            return validate_for_publish(fh)[1]
        with tempfile.TemporaryFile() as below:
            report = validate_for_publish(fh, below, counties)[1]
            conformity = list(report.conformity)
            for kind, *sent in sent_apart(below):
                if kind == "county":
                    conformity += sent[0]
    conformity.sort(key=lambda c: c.region)
    return msgspec.structs.replace(report, conformity=conformity)


def seen(report: Report) -> list[tuple]:
    return [(f.rule, f.severity, f.kind, f.key, f.line) for f in report.findings]


def expect(
    records: list,
    rule: str,
    kind: str,
    key: str | None,
    line_kind: str | None = None,
    line_key: str | None = None,
):
    line = line_of(records, line_kind or kind, line_key or key) if (line_key or key) else 1
    return (rule, RULES[rule], kind, key, line)


# -- the clean catalog --------------------------------------------------------------------


def test_clean_catalog_has_no_finding(tmp_path):
    records = clean_records()
    report = check(tmp_path, records)
    assert seen(report) == []
    assert report.summary.errors == 0 and report.summary.warnings == 0
    assert [(c.region, c.implementations, c.conforming) for c in report.conformity] == [
        ("640100", 1, 1),
        ("640104", 3, 3),
        ("649001", 1, 1),
    ]


def test_forward_references_are_allowed(tmp_path):
    records = clean_records()
    header, rest = records[0], records[1:]
    report = check(tmp_path, [header, *reversed(rest)])
    assert seen(report) == []


def test_blank_lines_are_ignored_and_lines_still_counted(tmp_path):
    records = clean_records()
    records.insert(2, "")
    records[-1]["items"] = [A]
    report = check(tmp_path, records)
    assert seen(report) == [("BUNDLE", "error", "bundle", "open-restaurant", len(records))]


# -- SCHEMA ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        '{"kind":"region","code":"640105","name":"西夏区","level":"county"}',  # missing parent
        '{"kind":"region","code":"640105","name":"西夏区","level":"district","parent":"640100"}',  # bad enum
        '{"kind":"region","code":"640105","name":"西夏区","level":"county","parent":"640100","extra":1}',  # unknown field
        '{"kind":"region","code":"640105","name":"西夏区","level":"county","parent":"640100"',  # not JSON
    ],
)
def test_schema_decode_failures(tmp_path, bad):
    records = clean_records()
    records.insert(5, bad)
    report = check(tmp_path, records)
    [f] = report.findings
    assert (f.rule, f.severity, f.line) == ("SCHEMA", "error", 6)
    if bad.endswith("}"):
        assert (f.kind, f.key) == ("region", "640105")


def test_schema_broken_item_is_not_also_unknown(tmp_path):
    records = clean_records()
    d = find(records, "item", D)
    d["statutory_days"] = "twenty"  # ill-typed: the item is dropped, its SCHEMA finding speaks for it
    report = check(tmp_path, records)
    assert seen(report) == [("SCHEMA", "error", "item", D, line_of(records, "item", D))]
    assert "字段 法定办结时限（statutory_days）应为整数，却是文本" in report.findings[0].message


def test_schema_choice_field_without_choices(tmp_path):
    records = clean_records()
    del find(records, "field", "business.kind")["choices"]
    assert seen(check(tmp_path, records)) == [expect(records, "SCHEMA", "field", "business.kind")]


def test_schema_choices_on_a_text_field(tmp_path):
    records = clean_records()
    find(records, "field", "applicant.name")["choices"] = ["张三"]
    assert seen(check(tmp_path, records)) == [expect(records, "SCHEMA", "field", "applicant.name")]


def test_schema_requirement_listed_twice(tmp_path):
    records = clean_records()
    find(records, "item", D)["materials"].append({"req": "identity", "any_of": ["passport"]})
    assert seen(check(tmp_path, records)) == [expect(records, "SCHEMA", "item", D)]


# -- HEADER ---------------------------------------------------------------------------------


def test_header_missing(tmp_path):
    records = clean_records()[1:]
    report = check(tmp_path, records)
    assert seen(report) == [("HEADER", "error", "catalog", None, 1)]
    catalog, _ = load_file(tmp_path / "catalog.jsonl")
    assert (catalog.header.format, catalog.header.version) == ("", "")
    assert seen(validate(catalog)) == [("HEADER", "error", "catalog", None, None)]


def test_header_not_first(tmp_path):
    records = clean_records()
    records.insert(3, records.pop(0))
    report = check(tmp_path, records)
    assert seen(report) == [("HEADER", "error", "catalog", None, 4)]
    assert load_file(tmp_path / "catalog.jsonl")[0].header.version == "2026.11"


def test_header_repeated(tmp_path):
    records = clean_records()
    records.append(dict(records[0], version="2027.01"))
    report = check(tmp_path, records)
    assert seen(report) == [("HEADER", "error", "catalog", None, len(records))]
    assert load_file(tmp_path / "catalog.jsonl")[0].header.version == "2026.11"


def test_header_other_format(tmp_path):
    records = clean_records()
    records[0]["format"] = "onething-catalog/2"
    report = check(tmp_path, records)
    assert seen(report) == [("HEADER", "error", "catalog", None, 1)]
    assert "onething-catalog/2" in report.findings[0].message


# -- DUPLICATE ------------------------------------------------------------------------------


def test_duplicate_material_reports_the_later_record(tmp_path):
    records = clean_records()
    records.append(dict(find(records, "material", "passport"), name="外国护照"))
    report = check(tmp_path, records)
    assert seen(report) == [("DUPLICATE", "error", "material", "passport", len(records))]
    catalog, _ = load_file(tmp_path / "catalog.jsonl")
    assert catalog.materials["passport"].name == "护照"  # the first is kept


def test_duplicate_implementation(tmp_path):
    records = clean_records()
    impl = impl_of(records, A)
    records.append(dict(impl, name="改名"))  # the later copy is dropped, not checked
    report = check(tmp_path, records)
    assert seen(report) == [("DUPLICATE", "error", "implementation", impl["code"], len(records))]
    assert (report.conformity[0].region, report.conformity[0].implementations) == ("640100", 1)


def test_same_key_in_two_kinds_is_not_duplicate(tmp_path):
    records = clean_records()
    records.append({"kind": "field", "id": "passport", "label": "护照号码", "type": "text"})
    assert seen(check(tmp_path, records)) == []


# -- UNKNOWN_REF ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,key,mutate",
    [
        ("item", B, lambda r: r["materials"][1]["any_of"].append("utility-bill")),
        ("item", B, lambda r: r["outputs"].append("hygiene-cert")),
        ("item", B, lambda r: r["fields"].append("business.area")),
        ("item", B, lambda r: r["requires"].append("000100099000")),
        ("item", D, lambda r: r.update(owner="650000")),
        ("implementation", None, lambda r: r.update(region="640199")),
    ],
)
def test_unknown_ref(tmp_path, kind, key, mutate):
    records = clean_records()
    target = impl_of(records, A) if kind == "implementation" else find(records, kind, key)
    mutate(target)
    key = key or target["code"]
    report = check(tmp_path, records)
    expected = [expect(records, "UNKNOWN_REF", kind, key)]
    if target.get("owner") == "650000":
        # 65 also disagrees with the code's 64, and puts D's implementation in Ningxia out of scope
        expected.insert(0, expect(records, "ITEM_CODE", kind, key))
        expected.append(expect(records, "SCOPE", "implementation", impl_of(records, D)["code"]))
    assert seen(report) == expected


def test_unknown_item_of_implementation_skips_item_checks(tmp_path):
    records = clean_records()
    impl = impl_of(records, A)
    impl["item"] = "000100077000"
    impl["code"] = CITY_AGENCY + "3" + "000100077000"
    impl["name"] = "随便"  # cannot be compared with an item that does not exist: no FOUR_SAME_NAME
    report = check(tmp_path, records)
    assert seen(report) == [
        expect(records, "ORPHAN_ITEM", "item", A),
        expect(records, "UNKNOWN_REF", "implementation", impl["code"]),
    ]


def test_unknown_region_parent(tmp_path):
    records = clean_records()
    records.pop(line_of(records, "region", "640100") - 1)
    records = [r for r in records if not (r.get("kind") == "implementation" and r["region"] == "640100")]
    records.insert(3, _impl(find(records, "item", A), "640104", COUNTY_AGENCY))
    assert seen(check(tmp_path, records)) == [expect(records, "UNKNOWN_REF", "region", "640104")]


def test_unknown_main_and_bundle_member(tmp_path):
    records = clean_records()
    find(records, "bundle", "open-restaurant")["items"].append("000100088000")
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "UNKNOWN_REF", "bundle", "open-restaurant")]


def test_unknown_material_added_by_implementation(tmp_path):
    records = clean_records()
    impl = impl_of(records, D)
    impl["materials"] = [{"req": "identity", "any_of": ["id-card", "hukou-book"]}]
    report = check(tmp_path, records)
    code = impl["code"]
    assert seen(report) == [
        expect(records, "MATERIAL_ADDED", "implementation", code),
        expect(records, "UNKNOWN_REF", "implementation", code),
    ]


# -- REGION_CODE / REGION_PARENT -----------------------------------------------------------


@pytest.mark.parametrize(
    "code,level", [("64010", "county"), ("640100", "county"), ("640105", "city"), ("000001", "national")]
)
def test_region_code(tmp_path, code, level):
    records = clean_records()
    parent = "640100" if level == "county" else ("640000" if level == "city" else None)
    records.append({"kind": "region", "code": code, "name": "坏", "level": level, "parent": parent})
    line = len(records)
    report = check(tmp_path, records)
    if code == "640100":  # also a duplicate of 银川市
        assert seen(report) == [("DUPLICATE", "error", "region", code, line)]
    else:
        assert seen(report) == [("REGION_CODE", "error", "region", code, line)]


def test_region_parent(tmp_path):
    records = clean_records()
    records.append(
        {"kind": "region", "code": "640105", "name": "西夏区", "level": "county", "parent": "640000"}
    )
    report = check(tmp_path, records)
    assert seen(report) == [("REGION_PARENT", "error", "region", "640105", len(records))]
    assert "640100" in report.findings[0].message


def test_region_parent_wrong_and_undefined_is_only_region_parent(tmp_path):
    records = clean_records()
    records.append(
        {"kind": "region", "code": "640105", "name": "西夏区", "level": "county", "parent": "640199"}
    )
    assert seen(check(tmp_path, records)) == [("REGION_PARENT", "error", "region", "640105", len(records))]


def test_national_region_with_a_parent(tmp_path):
    records = clean_records()
    find(records, "region", "000000")["parent"] = "000000"
    assert seen(check(tmp_path, records)) == [expect(records, "REGION_PARENT", "region", "000000")]


# -- ITEM_CODE / SUBITEM -------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"type": "02"},  # type digits disagree
        {"owner": "640000"},  # province digits disagree (and D's 64 would be right)
        {"main": None, "code": "000700006001"},  # a sub-item serial without a main item
        {"code": "00070000500A"},  # not 12 digits
        {"owner": "640100"},  # an owner that is not the nation or a province
    ],
)
def test_item_code(tmp_path, change):
    records = clean_records()
    item = find(records, "item", E1 if "main" in change else E)
    old = item["code"]
    item.update(change)
    for r in records:  # keep the implementation pointing at the item and well coded
        if r.get("kind") == "implementation" and r["item"] == old:
            r["item"] = item["code"]
            r["code"] = r["code"][:19] + item["code"]
            r["type"] = item["type"]
    report = check(tmp_path, records)
    line = line_of(records, "item", item["code"])
    assert ("ITEM_CODE", "error", "item", item["code"], line) in seen(report)
    assert {f.rule for f in report.findings} <= {
        "ITEM_CODE",
        "SUBITEM",
        "ORPHAN_ITEM",
        "SCOPE",
        "UNKNOWN_REF",
    }


def test_sub_item_code_must_share_main_prefix(tmp_path):
    records = clean_records()
    find(records, "item", E1)["main"] = A
    assert seen(check(tmp_path, records)) == [
        expect(records, "ORPHAN_ITEM", "item", E),  # E no longer has E1 as a sub-item
        expect(records, "ITEM_CODE", "item", E1),
        expect(records, "SUBITEM", "item", E1),  # and 07 is not A's type 01
    ]


def test_subitem_of_a_subitem(tmp_path):
    records = clean_records()
    e2 = _item("000700005002", "户籍确认（迁出）", "07", main=E1, materials=[IDENTITY])
    records.append(e2)
    records.append(_impl(e2, "640104", COUNTY_AGENCY))
    assert seen(check(tmp_path, records)) == [("SUBITEM", "error", "item", e2["code"], len(records) - 1)]


def test_subitem_type_differs_is_subitem_not_item_code(tmp_path):
    records = clean_records()
    e1 = find(records, "item", E1)
    e1["type"] = "20"
    impl_of(records, E1)["type"] = "20"
    assert seen(check(tmp_path, records)) == [expect(records, "SUBITEM", "item", E1)]


def test_main_item_implemented_only_through_subitem_is_no_orphan(tmp_path):
    records = clean_records()
    assert not any(r.get("kind") == "implementation" and r["item"] == E for r in records)
    assert seen(check(tmp_path, records)) == []


# -- USCC / IMPL_CODE ------------------------------------------------------------------------


def test_uscc_check_character(tmp_path):
    records = clean_records()
    impl = impl_of(records, D)
    good = impl["agency"]["uscc"]
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    impl["agency"]["uscc"] = bad
    impl["code"] = bad + impl["code"][18:]  # the code still follows the agency: only USCC
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "USCC", "implementation", impl["code"])]
    assert report.conformity[-1].conforming == 1  # USCC is not one of the four


def test_impl_code_wrong_level_digit(tmp_path):
    records = clean_records()
    impl = impl_of(records, A)
    impl["code"] = impl["code"][:18] + "4" + impl["code"][19:]
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "IMPL_CODE", "implementation", impl["code"])]
    assert report.conformity[0].conforming == 0


def test_impl_code_checked_without_region(tmp_path):
    records = clean_records()
    impl = impl_of(records, A)
    impl["region"] = "640199"
    impl["code"] = impl["code"][:18] + "7" + impl["code"][19:]
    report = check(tmp_path, records)
    assert seen(report) == [
        expect(records, "IMPL_CODE", "implementation", impl["code"]),
        expect(records, "UNKNOWN_REF", "implementation", impl["code"]),
    ]


# -- FOUR_SAME_* -------------------------------------------------------------------------


def test_four_same_name(tmp_path):
    records = clean_records()
    impl = impl_of(records, B)
    impl["name"] = "食品经营许可证核发"
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "FOUR_SAME_NAME", "implementation", impl["code"])]
    assert "食品经营许可证核发" in report.findings[0].message
    assert [(c.region, c.conforming) for c in report.conformity][1] == ("640104", 2)


def test_four_same_type(tmp_path):
    records = clean_records()
    impl = impl_of(records, B)
    impl["type"] = "20"
    assert seen(check(tmp_path, records)) == [
        expect(records, "FOUR_SAME_TYPE", "implementation", impl["code"])
    ]


def test_four_same_basis(tmp_path):
    records = clean_records()
    impl = impl_of(records, B)
    impl["basis"] = ["《中华人民共和国食品安全法》第三十五条"]
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "FOUR_SAME_BASIS", "implementation", impl["code"])]
    assert "不同：缺少“" in report.findings[0].message


# -- LEVEL / SCOPE ---------------------------------------------------------------------------


def test_level(tmp_path):
    records = clean_records()
    d = find(records, "item", D)
    records.append(_impl(d, "640100", CITY_AGENCY))  # D is a county-level item
    assert seen(check(tmp_path, records)) == [
        ("LEVEL", "error", "implementation", records[-1]["code"], len(records))
    ]


def test_scope(tmp_path):
    records = clean_records()
    records.insert(
        4, {"kind": "region", "code": "110000", "name": "北京市", "level": "province", "parent": "000000"}
    )
    records.insert(
        5, {"kind": "region", "code": "110100", "name": "北京市市辖区", "level": "city", "parent": "110000"}
    )
    records.insert(
        6, {"kind": "region", "code": "110101", "name": "东城区", "level": "county", "parent": "110100"}
    )
    LEVEL_DIGIT["110101"] = "4"
    records.append(_impl(find(records, "item", D), "110101", uscc("1110101MB0000009")))
    # a national item implemented in Beijing is fine
    records.append(_impl(find(records, "item", A), "110101", uscc("1110101MB0000009")))
    report = check(tmp_path, records)
    assert seen(report) == [("SCOPE", "error", "implementation", records[-2]["code"], len(records) - 1)]


# -- MATERIAL_ADDED --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "materials", "message"),
    [
        # a requirement the item does not have
        (A, lambda own: [IDENTITY, {"req": "photo", "any_of": ["passport"]}], "增加了材料要求“photo”"),
        # the item's optional layout, made mandatory
        (B, lambda own: [*own, {"req": "layout", "any_of": ["premises-layout"]}], "改为必需"),
    ],
    ids=["requirement", "made-mandatory"],
)
def test_material_added(tmp_path, item, materials, message):
    records = clean_records()
    impl = impl_of(records, item)
    impl["materials"] = materials(impl.get("materials"))
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "MATERIAL_ADDED", "implementation", impl["code"])]
    assert message in report.findings[0].message


def test_material_added_alternative(tmp_path):
    records = clean_records()
    impl = impl_of(records, D)
    impl["materials"] = [{"req": "identity", "any_of": ["id-card", "premises-layout"]}]
    assert seen(check(tmp_path, records)) == [
        expect(records, "MATERIAL_ADDED", "implementation", impl["code"])
    ]


def test_material_reordered_alternatives_is_fine(tmp_path):
    records = clean_records()
    impl = impl_of(records, A)
    impl["materials"] = [{"req": "identity", "any_of": ["passport", "id-card"], "optional": True}]
    assert seen(check(tmp_path, records)) == []


# -- TIME_LIMIT ------------------------------------------------------------------------------


def test_time_limit_promised_over_statutory(tmp_path):
    records = clean_records()
    impl = impl_of(records, B)
    impl["promised_days"] = 21
    assert seen(check(tmp_path, records)) == [expect(records, "TIME_LIMIT", "implementation", impl["code"])]


def test_time_limit_statutory_differs(tmp_path):
    records = clean_records()
    impl = impl_of(records, A)
    impl["statutory_days"] = 15
    assert seen(check(tmp_path, records)) == [expect(records, "TIME_LIMIT", "implementation", impl["code"])]


# -- CYCLE ---------------------------------------------------------------------------------


def test_cycle_through_requires_and_outputs(tmp_path):
    records = clean_records()
    find(records, "item", A)["requires"] = [C]  # A needs C, C needs B's output, B needs A's output
    report = check(tmp_path, records)
    assert seen(report) == sorted(
        [expect(records, "CYCLE", "item", code) for code in (A, B, C)], key=lambda t: t[4]
    )
    a = next(f for f in report.findings if f.key == A)
    assert B in a.message and C in a.message


def test_renewal_needing_its_own_output_is_no_cycle(tmp_path):
    records = clean_records()
    assert "food-business-license" in find(records, "item", C)["outputs"]
    assert seen(check(tmp_path, records)) == []


# -- BUNDLE / ORPHAN_ITEM --------------------------------------------------------------------


def test_bundle_too_small(tmp_path):
    records = clean_records()
    find(records, "bundle", "open-restaurant")["items"] = [A]
    assert seen(check(tmp_path, records)) == [expect(records, "BUNDLE", "bundle", "open-restaurant")]


def test_bundle_item_twice(tmp_path):
    records = clean_records()
    find(records, "bundle", "open-restaurant")["items"] = [A, B, A]
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "BUNDLE", "bundle", "open-restaurant")]
    assert A in report.findings[0].message


def test_bundle_findings_for_a_designers_bundle(tmp_path):
    records = clean_records()
    catalog, _ = load_file(write(tmp_path / "c.jsonl", records))
    assert bundle_findings(Bundle(id="x", name="试", items=[A, C]), catalog) == []
    got = bundle_findings(Bundle(id="x", name="试", items=[A, "000100055000"]), catalog)
    assert [(f.rule, f.kind, f.key, f.line) for f in got] == [("UNKNOWN_REF", "bundle", "x", None)]


def test_orphan_item_is_a_warning(tmp_path):
    records = clean_records()
    records = [r for r in records if not (r.get("kind") == "implementation" and r["item"] == C)]
    report = check(tmp_path, records)
    assert seen(report) == [("ORPHAN_ITEM", "warning", "item", C, line_of(records, "item", C))]
    assert report.summary.errors == 0 and report.summary.warnings == 1


# -- all at once ---------------------------------------------------------------------------


def test_all_findings_in_one_pass_sorted_by_line(tmp_path):
    records = clean_records()
    find(records, "field", "applicant.name")["choices"] = ["x"]
    impl_of(records, B)["name"] = "改名"
    impl_of(records, A)["promised_days"] = 99
    report = check(tmp_path, records)
    assert [f.rule for f in report.findings] == ["SCHEMA", "TIME_LIMIT", "FOUR_SAME_NAME"]
    assert [f.line for f in report.findings] == sorted(f.line for f in report.findings)


def test_validate_does_not_change_the_catalog(tmp_path):
    catalog, _ = load_file(write(tmp_path / "c.jsonl", clean_records()))
    before = copy.deepcopy(catalog)
    validate(catalog)
    assert catalog == before


def test_streaming_reader_agrees_with_catalog_load(tmp_path):
    """The engine decodes inline for speed; its SCHEMA findings are those of catalog.load.read_file."""
    from catalog.findings import Finding
    from catalog.load import read_file

    records = clean_records()
    records[4:4] = [
        '{"kind":"material","id":"x","name":"X","category":"food"}',
        "",
        "   ",
        "[]",
        '{"kind":"regoin"}',
        "{",
    ]
    path = write(tmp_path / "c.jsonl", records)
    from_load = [obj for _, obj in read_file(path) if isinstance(obj, Finding)]
    assert len(from_load) == 4
    assert [f for f in validate_file(path).findings if f.rule == "SCHEMA"] == from_load


def test_progress_is_reported(tmp_path, monkeypatch):
    import catalog.validate as engine

    monkeypatch.setattr(engine, "PROGRESS_EVERY", 10)
    calls: list[int] = []
    records = clean_records()
    validate_file(write(tmp_path / "c.jsonl", records), progress=calls.append)
    assert calls == [*range(10, len(records) + 1, 10), len(records)]  # and the whole count at the end


def test_catalog_built_in_code_has_no_lines(tmp_path):
    records = clean_records()
    impl_of(records, B)["type"] = "20"
    catalog, _ = load_file(write(tmp_path / "c.jsonl", records))
    catalog.lines = {}
    assert [(f.rule, f.line) for f in validate(catalog).findings] == [("FOUR_SAME_TYPE", None)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.randoms(use_true_random=False))
def test_record_order_does_not_matter(tmp_path, rnd):
    """References may point forward: any order after the header gives the same verdicts."""
    records = clean_records()
    impl_of(records, B)["name"] = "改名"  # one finding to carry through the shuffles
    body = records[1:]
    rnd.shuffle(body)
    shuffled = [records[0], *body]
    report = check(tmp_path, shuffled)
    code = impl_of(records, B)["code"]
    assert seen(report) == [expect(shuffled, "FOUR_SAME_NAME", "implementation", code)]
    assert [(c.region, c.implementations, c.conforming) for c in report.conformity] == [
        ("640100", 1, 1),
        ("640104", 3, 2),
        ("649001", 1, 1),
    ]
