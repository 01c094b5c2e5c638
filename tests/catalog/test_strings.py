"""Hostile strings and shapes (issue 11, catalog side): control characters, oversized strings
and lists, JSON nested too deep, and the byte order mark a spreadsheet writes."""

from __future__ import annotations

import json
import typing

import msgspec
import pytest

from catalog.load import read_bytes
from catalog.model import Bundle, Header, Record
from catalog.validate import bundle_findings, load_file, validate, validate_file

from .test_rules import A, B, check, clean_records, find, line_of, seen, write
from .test_validate_cli import onething


@pytest.mark.parametrize(
    ("kind", "key", "field", "value"),
    [
        ("material", "passport", "name", "护\x00照"),  # NUL: PostgreSQL refuses it outright
        ("material", "passport", "aliases", ["ok", "bad\x1b[31m"]),  # an escape sequence, in a list
        ("field", "applicant.name", "label", "姓名\t"),  # tab: not in a label
        ("bundle", "open-restaurant", "description", "一次办\r"),  # carriage return: not even in free text
        ("item", B, "basis", ["《法》\x07"]),
    ],
)
def test_control_characters_are_schema(tmp_path, kind, key, field, value):
    records = clean_records()
    find(records, kind, key)[field] = value
    report = check(tmp_path, records)
    line = line_of(records, kind, key)
    assert [(f.rule, f.kind, f.key, f.line) for f in report.findings if f.line == line] == [
        ("SCHEMA", kind, key, line)
    ]
    assert "U+00" in report.findings[0].message or any("U+00" in f.message for f in report.findings)


def test_tab_and_newline_are_free_text(tmp_path):
    records = clean_records()
    find(records, "bundle", "open-restaurant")["description"] = "第一行\n\t第二行"
    assert seen(check(tmp_path, records)) == []


def test_a_record_built_in_code_is_checked_too(tmp_path):
    catalog, _ = load_file(write(tmp_path / "c.jsonl", clean_records()))
    catalog.bundles["x"] = Bundle("x", "名\x00称", [A, B])
    assert [(f.rule, f.key) for f in validate(catalog).findings] == [("SCHEMA", "x")]
    assert [f.rule for f in bundle_findings(catalog.bundles["x"], catalog)] == ["SCHEMA"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "长" * 201),
        ("id", "x" * 65),
        ("aliases", ["别名"] * 101),
    ],
)
def test_oversized_strings_and_lists_are_schema(tmp_path, field, value):
    records = clean_records()
    line = line_of(records, "material", "passport")
    find(records, "material", "passport")[field] = value
    report = check(tmp_path, records)
    assert [(f.rule, f.line) for f in report.findings if f.line == line] == [("SCHEMA", line)]


def test_json_nested_a_thousand_deep_is_a_schema_finding_with_its_line(tmp_path):
    records = clean_records()
    deep = '{"kind":"region","code":"640105","name":' + "[" * 1000 + "]" * 1000 + "}"
    untyped = '{"kind":"material","x":' + '{"a":' * 1000 + "1" + "}" * 1000 + "}"
    records[2:2] = [deep, untyped]
    report = check(tmp_path, records)
    assert [(f.rule, f.line) for f in report.findings] == [("SCHEMA", 3), ("SCHEMA", 4)]
    path = write(tmp_path / "deep.jsonl", records)
    done = onething("validate", str(path), "--json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert [(f["rule"], f["line"]) for f in json.loads(done.stdout)["findings"]] == [
        ("SCHEMA", 3),
        ("SCHEMA", 4),
    ]


def test_a_byte_order_mark_is_tolerated(tmp_path):
    path = write(tmp_path / "bom.jsonl", clean_records())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert seen(validate_file(path)) == []
    catalog, report = load_file(path)
    assert report.ok and catalog.header.version == "2026.11"
    assert isinstance(next(read_bytes(path.read_bytes()))[1], Header)


def test_the_model_bounds_every_string():
    """A 2 GB string must not decode: every str of every record has a max_length."""
    for record_type in typing.get_args(Record):
        info = msgspec.inspect.type_info(record_type)
        for field in info.fields:  # type: ignore[attr-defined]
            for t in _strs(field.type):
                assert t.max_length is not None, (record_type.__name__, field.name)


def _strs(t):  # every StrType inside a type
    if isinstance(t, msgspec.inspect.StrType):
        yield t
    for attr in ("item_type", "key_type", "value_type", "types"):
        inner = getattr(t, attr, None)
        for x in inner if isinstance(inner, tuple) else [inner] if inner is not None else []:
            yield from _strs(x)
    if isinstance(t, msgspec.inspect.StructType):
        for f in t.fields:
            yield from _strs(f.type)
