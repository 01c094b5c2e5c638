"""The shared fixtures hold every rule: the Ningxia catalog is clean, and a generated catalog is
clean until a defect is injected — then the validator finds exactly that rule."""

from __future__ import annotations

import importlib
import io
from pathlib import Path

import msgspec
import pytest

from catalog.findings import RULES
from catalog.validate import load_bytes, load_file, validate, validate_file
from tests.conftest import NINGXIA


def test_ningxia_is_clean():
    if not NINGXIA.exists():
        pytest.skip(f"{NINGXIA} is not written yet")
    report = validate_file(NINGXIA)
    # revision 3's PROOF_DEMANDED warns of proofs the fixture still asks for (a reviewer's list)
    assert [(f.rule, f.key, f.line, f.message) for f in report.findings if f.rule != "PROOF_DEMANDED"] == []
    catalog, loaded = load_file(NINGXIA)
    assert loaded == report == validate(catalog)
    assert sum(c.implementations for c in report.conformity) == len(catalog.implementations)
    assert all(c.conforming == c.implementations for c in report.conformity)


def _generator():
    try:
        return importlib.import_module("fixtures.generate")
    except ModuleNotFoundError as exc:
        if exc.name != "fixtures.generate":
            raise
        pytest.skip("fixtures/generate.py is not written yet")


def _generated(implementations: int, seed: int = 0, defects: tuple[str, ...] = ()) -> bytes:
    out = io.BytesIO()
    _generator().generate(out, implementations, seed=seed, defects=defects)
    return out.getvalue()


@pytest.mark.parametrize("seed", [0, 7])
def test_generated_catalog_is_clean(tmp_path: Path, seed: int):
    data = _generated(300, seed=seed)
    path = tmp_path / "generated.jsonl"
    path.write_bytes(data)
    report = validate_file(path)
    assert [(f.rule, f.key, f.line, f.message) for f in report.findings] == []
    catalog, loaded = load_bytes(data)
    assert loaded == report == validate(catalog)
    assert sum(c.implementations for c in report.conformity) == len(catalog.implementations) == 300


def _supported_defects() -> list[str]:
    try:
        module = importlib.import_module("fixtures.generate")
    except ModuleNotFoundError:
        return list(RULES)
    return [rule for rule in getattr(module, "DEFECTS", RULES) if rule in RULES]


@pytest.mark.parametrize("rule", _supported_defects())
def test_each_injected_defect_is_found_and_nothing_else(tmp_path: Path, rule: str):
    data = _generated(300, seed=3, defects=(rule,))
    path = tmp_path / "defect.jsonl"
    path.write_bytes(data)
    report = validate_file(path)
    found = sorted({f.rule for f in report.findings})
    assert found == [rule], [(f.rule, f.line, f.message) for f in report.findings]
    assert load_bytes(data)[1] == report


def test_all_defects_at_once(tmp_path: Path):
    rules = _supported_defects()
    data = _generated(300, seed=5, defects=tuple(rules))
    path = tmp_path / "defects.jsonl"
    path.write_bytes(data)
    report = validate_file(path)
    assert sorted({f.rule for f in report.findings}) == sorted(rules)
    assert load_file(path)[1] == report
    warnings = {"ORPHAN_ITEM", "ONLINE_VISITS", "PROOF_DEMANDED"}
    assert report.summary.errors == sum(1 for f in report.findings if f.rule not in warnings)


def _late_defects(data: bytes) -> tuple[bytes, set[str]]:
    """A clean catalog with defects planted in implementations late in the file, each in a row
    whose item, agency and region are well known by then (so that a stream's one-step check of
    known-good rows is what sees them), and rows spelt differently but clean; the rules the
    defects must raise."""
    lines = data.splitlines(keepends=True)
    records = [msgspec.json.decode(line) for line in lines]
    regions = {r["code"]: r for r in records if r.get("kind") == "region"}
    items = {r["code"]: r for r in records if r.get("kind") == "item"}
    rows = [n for n, r in enumerate(records) if r.get("kind") == "implementation"]
    seen: set[tuple] = set()
    late = []
    for n in rows:
        r = records[n]
        known = [
            (r["item"], r["code"][18], msgspec.json.encode(r.get("materials"))),
            r["agency"]["uscc"],
            (r["region"], r.get("window")),
        ]
        if n > rows[len(rows) // 2] and all(k in seen for k in known):
            late.append(n)
        seen.update(known)
    spare = iter(late)
    expected: set[str] = set()

    def plant(rules: set[str], change) -> None:
        n = next(spare)
        r = msgspec.json.decode(lines[n])
        change(r)
        lines[n] = msgspec.json.encode(r) + b"\n"
        expected.update(rules)

    def other_level(r: dict) -> None:
        allowed = items[r["item"]]["levels"]
        r["region"] = next(c for c, g in regions.items() if g["level"] not in allowed)

    plant({"FOUR_SAME_NAME"}, lambda r: r.update(name=r["name"] + "（变更）"))
    plant({"FOUR_SAME_TYPE"}, lambda r: r.update(type="02" if r["type"] != "02" else "03"))
    plant({"FOUR_SAME_BASIS"}, lambda r: r.update(basis=[*r["basis"], "《某条例》第一条"]))
    plant({"TIME_LIMIT"}, lambda r: r.update(statutory_days=r["statutory_days"] + 1))
    plant({"TIME_LIMIT"}, lambda r: r.update(promised_days=r["statutory_days"] + 1))
    plant({"ONLINE_VISITS"}, lambda r: r.update(online_depth=4, visits=1))
    plant({"IMPL_CODE"}, lambda r: r.update(code=r["code"][:18] + ("6" if r["code"][18] != "6" else "5") + r["code"][19:]))
    plant({"USCC"}, lambda r: r.update(agency={**r["agency"], "uscc": r["agency"]["uscc"][:17] + "0"}))
    plant({"LEVEL"}, other_level)
    plant({"MATERIAL_ADDED"}, lambda r: r.update(materials=[{"req": "extra", "any_of": ["doc-00-00"]}]))
    plant({"SCHEMA"}, lambda r: r.update(agency={**r["agency"], "name": "局" * 201}))
    plant({"SCHEMA"}, lambda r: r.update(window="窗" * 201))
    plant({"SCHEMA"}, lambda r: r.update(window=5))
    plant({"SCHEMA"}, lambda r: r.update(window="综合\u0001窗口"))
    plant({"SCHEMA"}, lambda r: r.update(fee=-1))
    plant({"SCHEMA"}, lambda r: r.update(extra=1))
    plant(set(), lambda r: r.update(agency={"uscc": r["agency"]["uscc"], "name": r["agency"]["name"]}))
    plant(set(), lambda r: r.update(window="另一个窗口"))
    duplicated = next(spare)
    lines.insert(duplicated + 1, lines[rows[0]])  # an early row's code again, late
    expected.add("DUPLICATE")
    return b"".join(lines), expected


def test_a_stream_reports_late_defects_as_a_whole_load(tmp_path: Path):
    """The stream judges a row like the ones before it in one step; the whole load checks every
    row in full. Defects planted where that step looks must come out the same from both."""
    data, expected = _late_defects(_generated(3000, seed=2))
    path = tmp_path / "late.jsonl"
    path.write_bytes(data)
    report = validate_file(path)
    assert expected <= {f.rule for f in report.findings}
    assert report == load_bytes(data)[1]
