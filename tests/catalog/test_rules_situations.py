"""Revision 2 of §3: questions and `when` conditions (UNKNOWN_REF, BUNDLE, MATERIAL_ADDED), bundle
regions, and the new optional fields — each case triggered once, with its near miss."""

from __future__ import annotations

import json

import pytest

from catalog.model import Bundle, Requirement, record_decoder, record_encoder
from catalog.validate import bundle_findings, load_file

from .test_rules import A, B, check, clean_records, expect, find, impl_of, seen, write

PREMISES = {"question": "premises"}


def situated_records() -> list:
    """The clean catalog with a question, B's premises split by situation, and a revision-2 bundle.
    The question comes last: forward references settle at the end."""
    records = clean_records()
    b = find(records, "item", B)
    b["materials"][1] = {"req": "premises", "any_of": ["property-cert"], "when": {"premises": ["own"]}}
    b["materials"].append({"req": "lease", "any_of": ["lease-contract"], "when": {"premises": ["lease"]}})
    impl = impl_of(records, B)
    impl["materials"][1] = {
        "req": "premises",
        "any_of": ["property-cert"],
        "optional": True,
        "when": {"premises": ["own"]},
    }
    impl["address"], impl["hours"], impl["phone"] = "兴庆区政务服务大厅", "工作日", "12345"
    bundle = find(records, "bundle", "open-restaurant")
    bundle.update(regions=["640100"], window="综合窗口", target_days=20, when={B: {"premises": ["lease"]}})
    records.append(
        {
            "kind": "question",
            "id": "premises",
            "text": "经营场所是自有还是租赁？",
            "answers": {"own": "自有", "lease": "租赁"},
        }
    )
    return records


def test_a_situated_catalog_is_clean(tmp_path):
    assert seen(check(tmp_path, situated_records())) == []


def test_an_unknown_question_or_answer_on_an_item(tmp_path):
    records = situated_records()
    find(records, "item", B)["materials"][2]["when"] = {"premises": ["rent"], "size": ["big"]}
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "UNKNOWN_REF", "item", B)] * 2
    assert "没有答案“rent”" in report.findings[0].message + report.findings[1].message
    assert "问题“size”未在目录中定义" in report.findings[0].message + report.findings[1].message


def test_an_unknown_question_on_an_implementation_settles_at_the_end(tmp_path):
    records = situated_records()
    impl = impl_of(records, B)
    impl["materials"][2]["when"] = {"premises": ["own"], "floor": ["ground"]}  # narrows, names a new question
    report = check(tmp_path, records)
    assert seen(report) == [expect(records, "UNKNOWN_REF", "implementation", impl["code"])]
    assert "问题“floor”未在目录中定义" in report.findings[0].message


@pytest.mark.parametrize(
    ("when", "rule"),
    [
        ({"premises": ["own"]}, None),  # the same condition
        ({}, "MATERIAL_ADDED"),  # drops it: applies in every situation
        ({"premises": ["own", "lease"]}, "MATERIAL_ADDED"),  # widens it
        ({"premises": ["lease"]}, "MATERIAL_ADDED"),  # another answer
    ],
)
def test_an_implementation_may_only_narrow_a_condition(tmp_path, when, rule):
    records = situated_records()
    impl = impl_of(records, B)
    impl["materials"][1]["when"] = when
    expected = [] if rule is None else [expect(records, rule, "implementation", impl["code"])]
    assert seen(check(tmp_path, records)) == expected


def test_narrowing_by_a_further_question_is_fine(tmp_path):
    records = situated_records()
    records.append(
        {"kind": "question", "id": "chain", "text": "是否连锁经营？", "answers": {"yes": "是", "no": "否"}}
    )
    impl = impl_of(records, B)
    impl["materials"][1]["when"] = {"premises": ["own"], "chain": ["no"]}
    assert seen(check(tmp_path, records)) == []


def test_an_implementation_condition_on_an_unconditional_requirement_is_fine(tmp_path):
    records = situated_records()
    impl_of(records, B)["materials"][0]["when"] = {"premises": ["lease"]}
    assert seen(check(tmp_path, records)) == []


def test_bundle_regions_and_conditions(tmp_path):
    records = situated_records()
    bundle = find(records, "bundle", "open-restaurant")
    bundle["regions"] = ["640100", "659900"]
    bundle["when"] = {B: {"premises": ["leased"]}, "000100003000": {"premises": ["own"]}}
    report = check(tmp_path, records)
    line = expect(records, "BUNDLE", "bundle", "open-restaurant")[-1]
    assert sorted((f.rule, f.key, f.line) for f in report.findings) == [
        ("BUNDLE", "open-restaurant", line),
        ("UNKNOWN_REF", "open-restaurant", line),
        ("UNKNOWN_REF", "open-restaurant", line),
    ]
    messages = " ".join(f.message for f in report.findings)
    assert "区划“659900”未在目录中定义" in messages and "没有答案“leased”" in messages
    assert "但该事项不在这件事中" in messages


def test_a_designers_bundle_is_checked_for_conditions_too(tmp_path):
    catalog, _ = load_file(write(tmp_path / "c.jsonl", situated_records()))
    draft = Bundle(id="x", name="试", items=[A, B], when={B: {"nope": ["x"]}})
    assert [f.rule for f in bundle_findings(draft, catalog)] == ["UNKNOWN_REF"]


@pytest.mark.parametrize(
    "bad",
    [
        '{"kind":"question","id":"q","text":"只有一个答案？","answers":{"yes":"是"}}',
        '{"kind":"question","id":"q","text":"没有答案？","answers":{}}',
        json.dumps(
            {"kind": "bundle", "id": "y", "name": "空条件", "items": [A, B], "when": {A: {"premises": []}}}
        ),
        '{"kind":"material","id":"m","name":"材料","category":"other","retained":"yes"}',
    ],
)
def test_schema_for_revision_2_shapes(tmp_path, bad):
    records = situated_records()
    records.append(bad)
    report = check(tmp_path, records)
    assert [(f.rule, f.line) for f in report.findings] == [("SCHEMA", len(records))]


def test_a_revision_1_record_encodes_as_before():
    """Every revision-2 field is omitted at its default: a revision-1 catalog re-encodes byte for byte."""
    for record in clean_records():
        raw = record_encoder.encode(record_decoder.decode(record_encoder.encode(record)))
        for key in (b'"when"', b'"deferrable"', b'"retained"', b'"regions"', b'"target_days"', b'"address"'):
            assert key not in raw
    requirement = Requirement("premises", ["lease-contract"])
    assert record_encoder.encode(requirement) == b'{"req":"premises","any_of":["lease-contract"]}'
