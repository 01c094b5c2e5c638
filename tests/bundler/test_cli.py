"""`onething bundle` as a user runs it: a real process on a real file, exit codes 0/1/2 and each output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import msgspec
import pytest

from bundler import BundleProblem, Workflow, compose_bundle
from tests.conftest import onething as run_onething

from .test_workflow import restaurant

ROOT = Path(__file__).resolve().parents[2]


def onething(*args: str) -> subprocess.CompletedProcess[str]:
    return run_onething("bundle", *args, timeout=60)


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    b, _ = restaurant()
    return b.write(tmp_path / "restaurant.jsonl")


def test_json_is_exactly_the_workflow(catalog_file: Path) -> None:
    done = onething(str(catalog_file), "--bundle", "restaurant", "--region", "640104", "--json")
    assert done.returncode == 0, done.stderr
    b, _ = restaurant()
    expected = compose_bundle(b.catalog, "restaurant", "640104")
    assert msgspec.json.decode(done.stdout, type=Workflow) == expected
    assert done.stdout == msgspec.json.encode(expected).decode() + "\n"


def test_items_and_the_readable_summary(catalog_file: Path) -> None:
    done = onething(str(catalog_file), "--items", "000100001000,000100003000", "--region", "640104")
    assert done.returncode == 0, done.stderr
    assert "营业执照、户外招牌设施设置联办" in done.stdout
    assert "需先办结 after: 营业执照" in done.stdout
    assert "申请材料 materials    4 → 2" in done.stdout  # 2 + 2 requirements; id-card and the license waived


def test_html_is_the_printable_guide(catalog_file: Path) -> None:
    done = onething(str(catalog_file), "--bundle", "restaurant", "--region", "640104", "--html")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("<!DOCTYPE html>")
    assert "<title>开办餐饮店一件事 · 办事指南" in done.stdout


def test_impossible_bundling_exits_1_with_the_error_object(catalog_file: Path) -> None:
    done = onething(str(catalog_file), "--bundle", "restaurant", "--region", "640202", "--json")
    assert done.returncode == 1
    problem = msgspec.json.decode(done.stdout, type=BundleProblem)
    assert problem.error == "NOT_IMPLEMENTED"
    assert problem.items == ["000100001000", "000100002000", "000100003000", "000100004000"]

    done = onething(str(catalog_file), "--bundle", "no-such", "--region", "640104")
    assert done.returncode == 1
    assert done.stdout.startswith("UNKNOWN_BUNDLE:")


def test_an_unreadable_file_exits_2(tmp_path: Path) -> None:
    done = onething(str(tmp_path / "missing.jsonl"), "--bundle", "restaurant", "--region", "640104", "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "cannot read" in done.stderr


def test_a_catalog_with_error_findings_exits_2(tmp_path: Path) -> None:
    b, (a, *_) = restaurant()
    impl = next(i for i in b.catalog.implementations.values() if i.item == a)
    b.catalog.implementations[impl.code] = msgspec.structs.replace(impl, name="营业执照（改名）")
    done = onething(
        str(b.write(tmp_path / "bad.jsonl")), "--bundle", "restaurant", "--region", "640104", "--json"
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "FOUR_SAME_NAME" in done.stderr and "1 errors" in done.stderr


def test_bundle_and_items_are_exclusive(catalog_file: Path) -> None:
    done = onething(
        str(catalog_file), "--bundle", "restaurant", "--items", "000100001000", "--region", "640104"
    )
    assert done.returncode == 2  # argparse's usage error
    assert "not allowed with" in done.stderr


def situated_file(tmp_path: Path) -> Path:
    b, _ = restaurant()
    b.question("premises", "own", "lease")
    return b.write(tmp_path / "situated.jsonl")


def test_answers_are_passed_on(tmp_path: Path) -> None:
    path = situated_file(tmp_path)
    done = onething(
        str(path), "--bundle", "restaurant", "--region", "640104", "--answers", "premises=lease", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert msgspec.json.decode(done.stdout)["answers"] == {"premises": "lease"}


@pytest.mark.parametrize("answers", ["premises", "premises=", "=own", "premises=own,premises=lease"])
def test_malformed_answers_exit_2_with_one_line(tmp_path: Path, answers: str) -> None:
    done = onething(
        str(situated_file(tmp_path)), "--bundle", "restaurant", "--region", "640104", "--answers", answers
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "--answers" in done.stderr


@pytest.mark.parametrize("answers", ["premises=rent", "floor=1"])
def test_an_unknown_answer_exits_1_with_the_error_object(tmp_path: Path, answers: str) -> None:
    done = onething(
        str(situated_file(tmp_path)),
        "--bundle",
        "restaurant",
        "--region",
        "640104",
        "--answers",
        answers,
        "--json",
    )
    assert done.returncode == 1
    assert msgspec.json.decode(done.stdout, type=BundleProblem).error == "UNKNOWN_ANSWER"
