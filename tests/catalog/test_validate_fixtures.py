"""The shared fixtures hold every rule: the Ningxia catalog is clean, and a generated catalog is
clean until a defect is injected — then the validator finds exactly that rule."""

from __future__ import annotations

import importlib
import io
from pathlib import Path

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
