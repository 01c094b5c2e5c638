"""Every finding message is for a clerk: Chinese, naming things as staff know them. A catalog
breaking each rule of §3 (and every wording a rule has) yields only Chinese messages, so an
English one cannot creep back."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from catalog.findings import RULES, Finding
from catalog.load import read_bytes
from catalog.model import Bundle, Implementation, Region, record_decoder
from catalog.store.publish.incremental import _stray
from catalog.validate import bundle_findings, load_file
from catalog.wording import decode_problem, duplicate_message
from fixtures.generate import generate

from .test_rules import (
    COUNTY_AGENCY,
    E1,
    A,
    B,
    C,
    D,
    E,
    _impl,
    _item,
    check,
    clean_records,
    find,
    impl_of,
    uscc,
    write,
)
from .test_rules_situations import situated_records

CJK = re.compile(r"[\u4e00-\u9fff]")
_WORDS = """
is are the a an must should not defined again has have no of on in at and or with only kept
first line item implementation region header expected got missing unknown field object invalid
value bundle material requirement holds lists names adds accepts lacks exceeds outside
character characters digits shape code type serial main sub parent condition question answer
offers but which it its nothing published catalog submission already
"""
ENGLISH = frozenset(re.findall(r"[a-z]+", _WORDS))
"""Words of the English messages this module keeps out."""
QUOTED = re.compile(r"“[^”]*”|（[^（）]*）|\{[^}]*\}|'[^']*'")


def english_words(message: str) -> list[str]:
    """The English words of a message outside quoted values, parenthesised field names and codes."""
    bare = QUOTED.sub(" ", message)
    return [w for w in re.findall(r"[A-Za-z]+", bare) if w.lower() in ENGLISH]


def assert_chinese(messages: list[str]) -> None:
    assert messages
    for message in messages:
        assert CJK.search(message), message
        assert not english_words(message), (english_words(message), message)
        assert "'" not in message, message  # values are quoted “like this”, not with Python's repr


Mutation = Callable[[list], None]


def _item_of(records: list, code: str, **change: object) -> None:
    find(records, "item", code).update(change)


def _impl_of(records: list, code: str, **change: object) -> None:
    impl_of(records, code).update(change)


def _cycle(records: list) -> None:
    find(records, "item", A)["requires"] = [C]


def _unknown_refs(records: list) -> None:
    b = find(records, "item", B)
    b["materials"][1]["any_of"].append("utility-bill")
    b["outputs"].append("hygiene-cert")
    b["fields"].append("business.area")
    b["requires"].append("000100099000")
    find(records, "bundle", "open-restaurant")["items"].append("000100088000")
    impl_of(records, D)["materials"] = [{"req": "identity", "any_of": ["id-card", "hukou-book"]}]


def _scope(records: list) -> None:
    beijing = uscc("1110101MB0000009")
    records[4:4] = [
        {"kind": "region", "code": "110000", "name": "北京市", "level": "province", "parent": "000000"},
        {"kind": "region", "code": "110100", "name": "北京市市辖区", "level": "city", "parent": "110000"},
        {"kind": "region", "code": "110101", "name": "东城区", "level": "county", "parent": "110100"},
    ]
    impl = _impl(find(records, "item", D), "640104", beijing)
    impl.update(region="110101", code=beijing + "4" + D)
    records.append(impl)


def _regions(records: list) -> None:
    records.append({"kind": "region", "code": "64010", "name": "坏", "level": "county", "parent": "640100"})
    records.append(
        {"kind": "region", "code": "640105", "name": "西夏区", "level": "city", "parent": "640000"}
    )
    records.append(
        {"kind": "region", "code": "640106", "name": "金凤区", "level": "county", "parent": "640000"}
    )
    find(records, "region", "000000")["parent"] = "000000"
    records.append(
        {"kind": "region", "code": "650101", "name": "某区", "level": "county", "parent": "650100"}
    )


def _codes(records: list) -> None:
    _item_of(records, E, type="02")
    _item_of(records, D, owner="640100")
    e2 = _item("000700005002", "户籍确认（迁出）", "07", main=E1, materials=[{"req": "x", "any_of": []}])
    records.append(e2)
    records.append(_item("00070000600A", "坏编码", "07", materials=[]))
    records.append(_item("000700007001", "无主项", "07", materials=[]))
    records.append(_item("000700000000", "零序号", "07", materials=[]))
    records.append(_item("110700008000", "错省", "07", materials=[]))
    records.append(_item("000700009000", "自称子项", "07", main=E, materials=[]))
    records.append(_item("000800005003", "不同前缀", "08", main=E, materials=[]))


def _implementations(records: list) -> None:
    a, b = impl_of(records, A), impl_of(records, B)
    a["materials"] = [{"req": "identity", "any_of": ["id-card"]}, {"req": "photo", "any_of": ["passport"]}]
    a["statutory_days"], a["promised_days"] = 15, 30
    a["code"] = a["code"][:18] + "4" + a["code"][19:]
    b["name"], b["type"], b["basis"] = (
        "食品经营许可证核发",
        "20",
        ["《另一部法》", "《中华人民共和国食品安全法》第三十五条"],
    )
    b["materials"].append({"req": "layout", "any_of": ["premises-layout"]})
    b["materials"].append({"req": "identity", "any_of": ["id-card"]})
    d = impl_of(records, D)
    d["materials"] = [{"req": "identity", "any_of": ["id-card", "premises-layout"]}]
    bad = d["agency"]["uscc"][:17] + ("0" if d["agency"]["uscc"][17] != "0" else "1")
    d["agency"]["uscc"], d["code"] = bad, bad + d["code"][18:]
    records.append(_impl(find(records, "item", D), "640100", uscc("1640100MB0000001")))  # LEVEL
    lost = dict(impl_of(records, E1), item="000100077000", region="640199")
    lost["code"] = COUNTY_AGENCY + "7000100077000"
    records.append(lost)
    short = dict(impl_of(records, E1), code="X")
    short["agency"] = {"name": "某局", "uscc": "12345"}
    records.append(short)
    odd = dict(impl_of(records, E1), code="Y")
    odd["agency"] = {"name": "某局", "uscc": "1164010IMB0000002"}
    records.append(odd)


def _bundle(records: list) -> None:
    bundle = find(records, "bundle", "open-restaurant")
    bundle["items"] = [A]
    records.append(dict(bundle, id="twice", items=[A, B, A], regions=["659900"], when={C: {"x": ["y"]}}))


def _schema(records: list) -> None:
    records.insert(5, '{"kind":"region","code":"640105","name":"西夏区","level":"county"}')
    records.insert(
        6, '{"kind":"region","code":"640106","name":"西夏区","level":"district","parent":"640100"}'
    )
    records.insert(
        7, '{"kind":"region","code":"640107","name":"x","level":"county","parent":"640100","colour":1}'
    )
    records.insert(8, '{"kind":"region","code":"640108"')
    records.insert(9, '{"kind":"planet","code":"1"}')
    records.insert(10, '{"code":"1"}')
    records.insert(11, "[1, 2]")
    records.insert(12, '{"kind":"region","code":640109,"name":"x","level":"county","parent":"640100"}')
    records.insert(13, "[" * 2000 + "]" * 2000)
    _item_of(records, D, statutory_days=-1)
    _item_of(records, C, levels=["county"] * 7)
    del find(records, "field", "business.kind")["choices"]
    find(records, "field", "applicant.name")["choices"] = ["张三"]
    find(records, "material", "passport")["name"] = "护\x00照"
    find(records, "bundle", "open-restaurant")["description"] = "一次办\r"
    _item_of(records, B, materials=[*find(records, "item", B)["materials"], {"req": "license", "any_of": []}])


def _header(records: list) -> None:
    records[0]["format"] = "onething-catalog/2"
    records.insert(3, dict(records[0]))
    records.append(dict(records[0], format="onething-catalog/1"))


def _duplicates(records: list) -> None:
    records.append(dict(find(records, "material", "passport"), name="外国护照"))
    records.append(dict(impl_of(records, A), name="改名"))


def _situations(records: list) -> None:
    find(records, "item", B)["materials"][2]["when"] = {"premises": ["rent"], "size": ["big"]}
    impl = impl_of(records, B)
    impl["materials"][1]["when"] = {"premises": ["own", "lease"]}
    impl["materials"].append({"req": "lease", "any_of": ["lease-contract"], "when": {"floor": ["1"]}})
    bundle = find(records, "bundle", "open-restaurant")
    bundle["when"] = {B: {"premises": ["leased"]}, "000100003000": {"premises": ["own"]}}


def _warnings(records: list) -> None:
    impl_of(records, A).update(online_depth=4, visits=1)
    records.append({"kind": "material", "id": "residence-proof", "name": "居住证明", "category": "certificate"})
    find(records, "item", A)["materials"].append({"req": "residence", "any_of": ["residence-proof"]})


CASES: dict[str, tuple[Callable[[], list], Mutation]] = {
    "schema": (clean_records, _schema),
    "header": (clean_records, _header),
    "header-missing": (clean_records, lambda records: records.pop(0)),
    "duplicates": (clean_records, _duplicates),
    "unknown-refs": (clean_records, _unknown_refs),
    "regions": (clean_records, _regions),
    "codes": (clean_records, _codes),
    "implementations": (clean_records, _implementations),
    "scope": (clean_records, _scope),
    "cycle": (clean_records, _cycle),
    "bundle": (clean_records, _bundle),
    "situations": (situated_records, _situations),
    "warnings": (clean_records, _warnings),
}


@pytest.mark.parametrize("case", CASES)
def test_every_finding_of_a_broken_catalog_is_chinese(tmp_path: Path, case: str):
    build, mutate = CASES[case]
    records = build()
    mutate(records)
    path = write(tmp_path / "catalog.jsonl", records)
    report = check(tmp_path, records) if case != "schema" else _validate(path)
    assert report.findings
    assert_chinese([f.message for f in report.findings])


def _validate(path: Path):
    from catalog.validate import validate_file

    return validate_file(path)


def test_every_rule_is_covered_in_chinese(tmp_path: Path):
    """The generator's defects break each rule of §3 at once: every rule speaks, in Chinese."""
    out = io.BytesIO()
    generate(out, 300, seed=5, defects=tuple(RULES))
    path = tmp_path / "defects.jsonl"
    path.write_bytes(out.getvalue())
    report = _validate(path)
    assert {f.rule for f in report.findings} == set(RULES)
    assert_chinese([f.message for f in report.findings])
    seen: set[str] = set()
    for case, (build, mutate) in CASES.items():
        records = build()
        mutate(records)
        (tmp_path / case).mkdir()
        seen |= {f.rule for f in _validate(write(tmp_path / case / "c.jsonl", records)).findings}
    assert seen == set(RULES)


def test_the_stores_findings_are_chinese():
    impl = msgspec.convert(_impl(find(clean_records(), "item", A), "640100", COUNTY_AGENCY), Implementation)
    region = Region(code="640100", name="银川市", level="city", parent="640000")
    messages = [
        _stray("640104", 7, impl).message,
        _stray("640104", 3, region).message,
        duplicate_message("implementation", impl.code, 12),
        duplicate_message("material", "passport", None),
    ]
    assert_chinese(messages)
    assert "第 12 行已定义过" in messages[2] and "区划“银川市”（640100）不在其中" in messages[1]


def test_a_designers_bundle_is_told_in_chinese(tmp_path: Path):
    catalog, _ = load_file(write(tmp_path / "c.jsonl", clean_records()))
    got = bundle_findings(Bundle(id="x", name="试", items=[A, "000100055000"]), catalog)
    assert_chinese([f.message for f in got])
    assert "成员事项“000100055000”未在目录中定义" in got[0].message


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (
            b'{"kind":"region","code":"1","name":"x","level":"city","parent":null,"visits":1}',
            "有格式中没有的字段 跑动次数（visits）",
        ),
        (
            b'{"kind":"region","code":1,"name":"x","level":"city","parent":null}',
            "字段 编码（code）应为文本，却是整数",
        ),
        (
            b'{"kind":"region","code":"1","name":"x","level":"town","parent":null}',
            "字段 层级（level）的取值“town”不在允许的取值之中",
        ),
        (b'{"kind":"region","code":"1","level":"city","parent":null}', "缺少必填的字段 名称（name）"),
        (b'{"kind":"region"', "不是完整的 JSON"),
        (b'{"kind" 1}', "不是合法的 JSON（第 9 个字节附近有误）"),
        (b'{"kind":"town"}', "记录类型（kind）“town”未知"),
        (b"[]", "不是 JSON 对象"),
    ],
)
def test_msgspec_errors_are_told_in_chinese(raw: bytes, said: str):
    [(number, found)] = list(read_bytes(raw))
    assert isinstance(found, Finding) and number == 1
    assert said in found.message and found.message.startswith("第 1 行")
    assert_chinese([found.message])


def test_decode_problem_names_the_path():
    try:
        record_decoder.decode(
            b'{"kind":"implementation","code":"x","item":"x","region":"x","agency":{"name":"a"},"name":"n",'
            b'"type":"01","basis":[],"statutory_days":1,"promised_days":1,"visits":"0","online_depth":1}'
        )
    except msgspec.ValidationError as exc:
        assert decode_problem(str(exc)) == "缺少必填的字段 统一社会信用代码（agency.uscc）"
    assert (
        decode_problem("Expected `int`, got `str` - at `$.visits`")
        == "字段 跑动次数（visits）应为整数，却是文本"
    )
    assert (
        decode_problem("Expected `int` <= 5 - at `$.visits`") == "字段 跑动次数（visits）应为不大于 5 的整数"
    )


def test_bundling_errors_are_chinese(tmp_path: Path):
    """The bundling error object keeps its code; its message is for the citizen or designer."""
    from bundler.document import BundleError
    from bundler.workflow import compose, compose_bundle

    catalog, _ = load_file(write(tmp_path / "c.jsonl", situated_records()))
    attempts: list[Callable[[], object]] = [
        lambda: compose(catalog, [A, B], "659999"),
        lambda: compose(catalog, [A, "000100066000"], "640104"),
        lambda: compose(catalog, [], "640104"),
        lambda: compose(catalog, [A, D], "640104"),
        lambda: compose_bundle(catalog, "no-such", "640104"),
        lambda: compose(catalog, [A, B], "640104", answers={"premises": "rent"}),
        lambda: compose(catalog, [A, B], "640104", answers={"size": "big"}),
    ]
    messages = []
    for attempt in attempts:
        with pytest.raises(BundleError) as caught:
            attempt()
        messages.append(caught.value.problem.message)
    assert_chinese(messages)
    assert "都没有以下事项的实施清单：“地方特色服务”（642000004000）" in messages[3]
    assert "没有答案“rent”，可选答案为“自有”（own）、“租赁”（lease）" in messages[5]
