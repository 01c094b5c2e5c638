"""Issue 18, point 1: a sheet is read within bounds. Each bomb — 2 GiB of whitespace in a 2 MB
workbook, a million rows, 80 million cells, and their CSV kin — is published in a process of
its own whose peak memory (its VmHWM) stays under 256 MiB; each is refused with one SHEET
finding in Chinese (the API's INVALID_SHEET) and the store does not move. Sheets just inside the
bounds still read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.sheet import DATA_SHEET, read
from catalog.sheet.bounds import MAX_CELL_CHARS, MAX_CSV_BYTES, MAX_CSV_LINE, MAX_ROWS
from catalog.store import Store
from catalog.validate import load_file
from tests.conftest import NINGXIA, ROOT

from . import bombs
from .sheets import csv_rows, write_csv

COUNTY = "640104"
LIMIT = 256 << 20

CHILD = r"""
import json, sys
from catalog.store import Refused, Store
from catalog.store.sheets import publish_sheet

url, path, fmt = sys.argv[1:4]
store = Store(url)
before = store.revision()
try:
    publish_sheet(store, path, fmt, region=sys.argv[4] if len(sys.argv) > 4 else None)
    found = None
except Refused as exc:
    found = [{"rule": f.rule, "sheet": f.sheet, "message": f.message} for f in exc.findings]
after = store.revision()
store.dispose()
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"findings": found, "before": before, "after": after, "peak": hwm * 1024}))
"""


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('bounds') / 'onething.db'}"
    store = Store(url)
    store.publish_file(NINGXIA)
    store.dispose()
    return url


def publish_in_a_child(url: str, path: Path, fmt: str, region: str | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    args = [sys.executable, "-c", CHILD, url, str(path), fmt] + ([region] if region else [])
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def refused_within_bounds(url: str, path: Path, fmt: str, *words: str) -> str:
    """Published in a child: refused with one SHEET finding, the store unmoved, the child's peak
    memory under 256 MiB. The finding's message."""
    out = publish_in_a_child(url, path, fmt, None if fmt == "xlsx" else COUNTY)
    assert out["peak"] < LIMIT, f"peak {out['peak'] >> 20} MiB"
    assert out["findings"] is not None, "the bomb was published"
    (found,) = out["findings"]
    assert found["rule"] == "SHEET" and found["sheet"] == (DATA_SHEET if fmt == "xlsx" else None)
    assert out["before"] == out["after"]
    message = found["message"]
    assert all(w in message for w in words), message
    plain = message
    for word in ("Excel", "CSV", "MB", "DOCTYPE", ".xlsx"):
        plain = plain.replace(word, "")
    assert not any("a" <= ch.lower() <= "z" for ch in plain), message  # no internal names
    return message


# -- .xlsx ---------------------------------------------------------------------------------------


def test_two_gib_of_whitespace_in_a_two_megabyte_workbook(store_url, tmp_path) -> None:
    path = bombs.whitespace(tmp_path / "whitespace.xlsx")
    assert path.stat().st_size < 3 << 20
    refused_within_bounds(store_url, path, "xlsx", "工作表“实施清单”解压后有 2048 MB", "上限")


def test_whitespace_under_the_size_bound_is_refused_by_its_compression_ratio(store_url, tmp_path) -> None:
    path = bombs.whitespace(tmp_path / "ratio.xlsx", gib=0.125)
    refused_within_bounds(store_url, path, "xlsx", "压缩比")


def test_a_member_that_claims_a_small_size_is_not_read_past_it(store_url, tmp_path) -> None:
    sheet = bombs.Member(
        bombs.SHEET, bombs.SHEET_HEAD + bombs.header_row(), b" " * (1 << 20), 64, bombs.SHEET_TAIL
    )
    path = bombs.book(tmp_path / "liar.xlsx", sheet, declared={bombs.SHEET: 100_000})
    refused_within_bounds(store_url, path, "xlsx", "不是完好的")


def test_a_million_rows(store_url, tmp_path) -> None:
    path = bombs.rows(tmp_path / "rows.xlsx")
    refused_within_bounds(store_url, path, "xlsx", f"{MAX_ROWS:,} 行")


def test_eighty_million_small_cells(store_url, tmp_path) -> None:
    path = bombs.cells(tmp_path / "cells.xlsx")
    assert path.stat().st_size < 10 << 20
    refused_within_bounds(store_url, path, "xlsx")


def test_six_million_cells_inside_the_size_bound_are_refused_by_their_count(store_url, tmp_path) -> None:
    path = bombs.cells(tmp_path / "cells.xlsx", count=6_000_000, varied=True)
    refused_within_bounds(store_url, path, "xlsx", "单元格超过")


def test_a_cell_past_excels_own_length(store_url, tmp_path) -> None:
    head = bombs.SHEET_HEAD + bombs.header_row() + b'<row r="2"><c r="A2" t="inlineStr"><is><t>'
    sheet = bombs.Member(bombs.SHEET, head, b"x" * 1024, 100, b"</t></is></c></row>" + bombs.SHEET_TAIL)
    path = bombs.book(tmp_path / "long.xlsx", sheet)
    refused_within_bounds(store_url, path, "xlsx", f"{MAX_CELL_CHARS:,} 个字符")


def test_a_doctype_is_not_expanded(store_url, tmp_path) -> None:
    laughs = b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
    sheet = bombs.Member(bombs.SHEET, laughs + bombs.SHEET_HEAD[21:] + bombs.header_row() + bombs.SHEET_TAIL)
    path = bombs.book(tmp_path / "doctype.xlsx", sheet)
    refused_within_bounds(store_url, path, "xlsx", "DOCTYPE")


def test_a_sheet_just_inside_the_row_bound_is_read(tmp_path) -> None:
    """The bound is on the rows a sheet holds: 100,000 rows read (each one an untouched template
    row here: no finding) and 100,001 do not."""
    catalog, _ = load_file(NINGXIA)
    for count in (MAX_ROWS, MAX_ROWS + 1):
        body = b"<row><c><v>1</v></c></row>"
        path = bombs.book(
            tmp_path / f"{count}.xlsx",
            bombs.Member(bombs.SHEET, bombs.SHEET_HEAD + bombs.header_row(), body, count, bombs.SHEET_TAIL),
        )
        sheet = read(path, "xlsx", catalog, out=tmp_path / "out.jsonl")
        bound = [f for f in sheet.findings if f"{MAX_ROWS:,} 行" in f.message]
        if count == MAX_ROWS:
            assert not sheet.findings
        else:
            assert len(bound) == len(sheet.findings) == 1


# -- .csv ----------------------------------------------------------------------------------------


def header_line(_: Path) -> str:
    from catalog.sheet import COLUMNS

    return ",".join(c.label for c in COLUMNS) + "\r\n"


def test_a_csv_past_its_size(store_url, tmp_path) -> None:
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(header_line(tmp_path))
        line = ",".join(["x"] * 10) + "\r\n"
        fh.write(line * ((MAX_CSV_BYTES // len(line)) + 10))
    refused_within_bounds(store_url, path, "csv", "CSV", "上限")


def test_a_csv_of_a_million_rows(store_url, tmp_path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(header_line(tmp_path) + "1\r\n" * 1_048_576, encoding="utf-8")
    refused_within_bounds(store_url, path, "csv", f"{MAX_ROWS:,} 行")


def test_a_csv_of_six_million_cells(store_url, tmp_path) -> None:
    path = tmp_path / "cells.csv"
    path.write_text(header_line(tmp_path) + ("," * 199 + "1\r\n") * 30_000, encoding="utf-8")
    refused_within_bounds(store_url, path, "csv", "单元格超过")


def test_a_csv_line_without_end(store_url, tmp_path) -> None:
    path = tmp_path / "line.csv"
    path.write_text(header_line(tmp_path) + "x" * (MAX_CSV_LINE + 10), encoding="utf-8")
    refused_within_bounds(store_url, path, "csv", f"{MAX_CSV_LINE:,} 个字符")


def test_a_csv_cell_past_excels_length(store_url, tmp_path) -> None:
    path = tmp_path / "cell.csv"
    path.write_text(header_line(tmp_path) + '"' + "x\n" * 40_000 + '"\r\n', encoding="utf-8")
    refused_within_bounds(store_url, path, "csv", f"{MAX_CELL_CHARS:,} 个字符")


def test_the_fixture_csv_still_reads_in_a_child_within_bounds(store_url, tmp_path) -> None:
    """The control: an ordinary sheet published the same way does publish (no change: 0 rows)."""
    from catalog.store.sheets import export_sheet

    store = Store(store_url)
    try:
        export_sheet(store, tmp_path / "ok.csv", "csv", COUNTY, 1)
    finally:
        store.dispose()
    rows = csv_rows(tmp_path / "ok.csv")
    out = publish_in_a_child(store_url, write_csv(tmp_path / "again.csv", rows), "csv", COUNTY)
    assert out["findings"] is None and out["peak"] < LIMIT


def test_a_damaged_workbook_is_a_finding_never_an_exception(tmp_path) -> None:
    """Bytes flipped or cut anywhere in a real export: a SHEET finding (or, where the damage
    touched nothing read, the sheet as it was) — never an error escaping the reader."""
    import random

    import msgspec

    from catalog.sheet import write

    catalog, _ = load_file(NINGXIA)
    small = msgspec.structs.replace(catalog, implementations={})
    rows = sorted((i for i in catalog.implementations.values() if i.region == COUNTY), key=lambda i: i.code)
    good = tmp_path / "good.xlsx"
    write(good, "xlsx", COUNTY, small, rows)
    data = good.read_bytes()
    pick = random.Random(18)
    for n in range(150):
        damaged = bytearray(data)
        for _ in range(pick.randint(1, 20)):
            damaged[pick.randrange(len(damaged))] = pick.randrange(256)
        if n % 5 == 0:
            damaged = damaged[: pick.randrange(len(damaged))]
        path = tmp_path / "damaged.xlsx"
        path.write_bytes(bytes(damaged))
        sheet = read(path, "xlsx", small, region=COUNTY, out=tmp_path / "out.jsonl")
        assert sheet.ok or sheet.findings
