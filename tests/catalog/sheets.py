"""Sheets as a clerk hands them back: an exported workbook's cells read (python-calamine), edited
and written again as a real .xlsx (xlsxwriter) — with a merged range, a number where text was,
a worksheet renamed — or a CSV edited as text."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from catalog.sheet import COLUMNS
from catalog.sheet.columns import letter

Rows = list[list[Any]]


def column(label: str) -> str:
    """The letter of a fixed column, as the sheet writes it."""
    return letter(next(i for i, c in enumerate(COLUMNS) if c.label == label))


def index(label: str) -> int:
    return next(i for i, c in enumerate(COLUMNS) if c.label == label)


def cells(path: Path) -> dict[str, Rows]:
    """Every worksheet of a workbook: name -> rows of cell values."""
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        return {
            name: [list(r) for r in book.get_sheet_by_name(name).to_python(skip_empty_area=False)]
            for name in book.sheet_names
        }
    finally:
        book.close()


def workbook(path: Path, sheets: dict[str, Rows], merged: tuple[tuple[int, int, int, int], ...] = ()) -> Path:
    """Write `sheets` as a workbook: text as text, numbers as numbers, True/False as logical
    values; `merged`: (first row, first column, last row, last column) ranges of the first sheet."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    for number, (name, rows) in enumerate(sheets.items()):
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, bool):
                    sheet.write_boolean(r, c, value)
                elif isinstance(value, int | float):
                    sheet.write_number(r, c, value)
                else:
                    sheet.write_string(r, c, value)
        if number == 0:
            for r0, c0, r1, c1 in merged:
                sheet.merge_range(r0, c0, r1, c1, rows[r0][c0] if r0 < len(rows) else "")
    book.close()
    return path


def csv_rows(path: Path) -> Rows:
    return [list(r) for r in csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline=""))]


def write_csv(path: Path, rows: Rows, encoding: str = "utf-8-sig") -> Path:
    text = io.StringIO(newline="")
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    path.write_bytes(text.getvalue().encode(encoding))
    return path
