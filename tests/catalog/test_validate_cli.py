"""`onething validate CATALOG.jsonl [--json]` as §5 fixes it: exit codes, the JSON object, the human report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from catalog.findings import RULES, Report
from tests.conftest import onething

from .test_rules import A, B, clean_records, impl_of, line_of, write

ROOT = Path(__file__).resolve().parents[2]


def broken_records() -> list:
    """Errors of three rules, in an order the spec's table does not follow, and one warning."""
    records = clean_records()
    impl_of(records, B)["name"] = "食品经营许可证核发"  # FOUR_SAME_NAME
    records.append(
        {"kind": "region", "code": "640105", "name": "西夏区", "level": "county", "parent": "640000"}
    )  # REGION_PARENT
    records.insert(3, '{"kind":"region","code":"640106"}')  # SCHEMA
    records = [
        r
        for r in records
        if not (isinstance(r, dict) and r.get("kind") == "implementation" and r["item"] == A)
    ]
    return records  # ... and A is now an ORPHAN_ITEM


def test_clean_catalog_exits_0(tmp_path):
    done = onething("validate", str(write(tmp_path / "c.jsonl", clean_records())))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().splitlines()[-1] == "0 errors, 0 warnings"
    assert done.stderr == ""


def test_errors_exit_1_and_json_is_one_object(tmp_path):
    records = broken_records()
    done = onething("validate", str(write(tmp_path / "c.jsonl", records)), "--json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)  # exactly one JSON document, nothing else on stdout
    assert list(data) == ["findings", "conformity", "summary"]
    assert data["summary"] == {"errors": 3, "warnings": 1}
    assert set(data["findings"][0]) == {"rule", "severity", "kind", "key", "line", "message"}
    assert [(f["rule"], f["line"]) for f in data["findings"]] == [
        ("SCHEMA", 4),
        ("ORPHAN_ITEM", line_of(records, "item", A)),
        ("FOUR_SAME_NAME", line_of(records, "implementation", impl_of(records, B)["code"])),
        ("REGION_PARENT", len(records)),
    ]
    assert data["conformity"] == [
        {"region": "640104", "implementations": 3, "conforming": 2},
        {"region": "649001", "implementations": 1, "conforming": 1},
    ]
    report = msgspec.json.decode(done.stdout.encode(), type=Report)  # and it is the Report, typed
    assert report.findings[2].key == impl_of(records, B)["code"]
    assert done.stderr == ""


def test_warnings_alone_exit_0(tmp_path):
    records = [r for r in clean_records() if not (r.get("kind") == "implementation" and r["item"] == A)]
    done = onething("validate", str(write(tmp_path / "c.jsonl", records)), "--json")
    assert done.returncode == 0
    assert json.loads(done.stdout)["summary"] == {"errors": 0, "warnings": 1}


def test_human_output_groups_by_rule_in_table_order(tmp_path):
    records = broken_records()
    done = onething("validate", str(write(tmp_path / "c.jsonl", records)))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    headings = [
        line.split(" ")[0]
        for line in lines
        if line and not line.startswith(" ") and line.split(" ")[0] in RULES
    ]
    assert headings == [
        "SCHEMA",
        "REGION_PARENT",
        "FOUR_SAME_NAME",
        "ORPHAN_ITEM",
    ]  # §3 order, not line order
    code = impl_of(records, B)["code"]
    name_line = line_of(records, "implementation", code)
    assert f"  line {name_line}  implementation {code} — " in done.stdout
    assert f"  line {len(records)}  region 640105 — " in done.stdout
    assert "名称为“食品经营许可证核发”" in done.stdout  # the Chinese name quoted as it is
    assert lines[-1] == "3 errors, 1 warnings"
    table = lines[lines.index(next(line for line in lines if line.startswith("四同 conformity"))) :]
    assert any(line.split() == ["640104", "3", "2", "66.7%"] for line in table)
    assert any(line.split() == ["all", "4", "3", "75.0%"] for line in table)


def test_missing_file_exits_2(tmp_path):
    done = onething("validate", str(tmp_path / "nope.jsonl"))
    assert done.returncode == 2
    assert "nope.jsonl" in done.stderr and done.stdout == ""


def test_directory_exits_2(tmp_path):
    done = onething("validate", str(tmp_path), "--json")
    assert done.returncode == 2 and done.stdout == ""


def test_garbage_is_readable_and_reported_not_exit_2(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"\xff\xfe not json at all\n\n[1,2]\n")
    done = onething("validate", str(path), "--json")
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert [(f["rule"], f["line"]) for f in data["findings"]] == [("HEADER", 1), ("SCHEMA", 1), ("SCHEMA", 3)]


def test_empty_file_has_no_header(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"")
    done = onething("validate", str(path), "--json")
    assert done.returncode == 1
    assert [(f["rule"], f["line"]) for f in json.loads(done.stdout)["findings"]] == [("HEADER", None)]


def test_generated_catalogs_end_to_end(tmp_path):
    if not (ROOT / "fixtures" / "generate.py").exists():
        pytest.skip("fixtures/generate.py is not written yet")
    clean, broken = tmp_path / "clean.jsonl", tmp_path / "broken.jsonl"
    for path, extra in ((clean, []), (broken, ["--defects", "FOUR_SAME_BASIS,ORPHAN_ITEM"])):
        made = subprocess.run(
            [
                sys.executable,
                "-m",
                "fixtures.generate",
                "--implementations",
                "200",
                "--out",
                str(path),
                *extra,
            ],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        assert made.returncode == 0, made.stderr
    assert onething("validate", str(clean)).returncode == 0
    done = onething("validate", str(broken), "--json")
    assert done.returncode == 1
    assert sorted(f["rule"] for f in json.loads(done.stdout)["findings"]) == [
        "FOUR_SAME_BASIS",
        "ORPHAN_ITEM",
    ]
