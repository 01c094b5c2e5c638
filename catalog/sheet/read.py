"""A filled sheet back into implementations: a region's partial submission (spec §6).

`read` takes an `.xlsx` (streamed within bounds: `bounds`) or `.csv` (UTF-8, or the GB 18030 Excel saves on a
Chinese Windows), checks that it is one of ours (the 实施清单 worksheet, the exact header
labels, the format and region its 说明 records), refuses merged cells and cells of the wrong
type, and turns each row into an `Implementation`. A row holding only what the template
fills in is not an implementation (no finding). What it writes is the partial submission the
store takes unchanged: the newest version's header on line 1 and row n's implementation on
line n — so every finding the store answers with names its row.

Every problem is a `SheetFinding` at its worksheet, row and column, in words a clerk
understands; a sheet with any is not written, so nothing is published.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec

from ..model import (
    ITEM_TYPES,
    LEVEL_DIGIT,
    Catalog,
    Header,
    Implementation,
    Requirement,
    ServicePoint,
    record_encoder,
)
from ..tree import subtree
from . import bounds, notation
from .columns import (
    BY_FIELD,
    BY_LABEL,
    CHANNEL_WORDS,
    COLUMNS,
    DATA_SHEET,
    FORMAT_NAME,
    NO,
    NO_CHANNEL,
    NOTES_SHEET,
    POINT_BY_LABEL,
    POINT_COLUMNS,
    POINTS_SHEET,
    YES,
    Column,
    letter,
    material_label,
    material_number,
    window_label,
    window_number,
)
from .formula import plain
from .locate import Origin, RowOrigin, SheetFinding, sheet_finding

Format = Literal["xlsx", "csv"]
Cell = Any
"""What a reader gives for a cell: str, int, float, bool, a date or time, or None."""
TYPE_CODES = {name: code for code, name in ITEM_TYPES.items()}
MAX_FINDINGS = 1000
"""A sheet that is wrong all over says so this many times, not once per cell."""


@dataclass
class Sheet:
    """A read sheet: the region it is for, the implementations it holds, its problems, and where
    each row came from (to place the store's findings: `origin.locate`)."""

    region: str | None
    implementations: int = 0
    findings: list[SheetFinding] = field(default_factory=list)
    origin: Origin = field(default_factory=lambda: Origin(None))
    service_points: dict[int, ServicePoint] | None = None
    """The 服务场所 worksheet's points by row number, in row order; None: the sheet has no such
    worksheet (a CSV, or a workbook written before it existed)."""

    @property
    def ok(self) -> bool:
        return not self.findings


class _Table:
    """The data worksheet: its header row, then its rows as a stream (read as they are asked
    for: `bounds`), with what else the workbook says."""

    def __init__(self, sheet: str | None, rows: Iterator[tuple[int, list[Cell]]], book: Any = None) -> None:
        self.sheet = sheet
        self._rows = rows
        self.book = book
        self.header: list[Cell] = []
        first = next(rows, None)
        if first is not None and first[0] == 1:
            self.header = first[1]
        elif first is not None:
            self._rows = itertools.chain([first], rows)
        self.marker: dict[str, tuple[str, str]] = {}
        """说明's 格式 and 区划: label -> (value, cell)."""

    @property
    def rows(self) -> Iterator[tuple[int, list[Cell]]]:
        """The rows after the header that hold a cell: (row number, cells)."""
        return self._rows

    @property
    def merged(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """The merged ranges, once `rows` is through."""
        return [] if self.book is None else self.book.merged

    def drain(self) -> None:
        for _ in self._rows:
            pass

    def close(self) -> None:
        if self.book is not None:
            self.book.close()


def format_of(path: str | Path) -> Format | None:
    """The sheet format a file name says (`.xlsx`, `.csv`), None for anything else."""
    suffix = Path(path).suffix.lower()
    return "xlsx" if suffix == ".xlsx" else "csv" if suffix == ".csv" else None


def read(
    path: str | Path, fmt: Format, catalog: Catalog, *, region: str | None = None, out: str | Path
) -> Sheet:
    """Read the sheet at `path` against `catalog` (the newest version's small records) as the
    submission of `region` (None: the region its 说明 records). When it is clean, the partial
    submission is at `out` (else nothing is). OSError when the file cannot be opened at all.
    A sheet past a bound (`bounds`) is one finding saying which, whatever else is wrong."""
    sheet_name = DATA_SHEET if fmt == "xlsx" else None
    result = Sheet(region=region, origin=Origin(sheet_name))
    try:
        table, problem = _open(Path(path), fmt)
        if table is None:
            result.findings.append(sheet_finding("SHEET", problem, sheet=sheet_name))
            return result
        try:
            _read(table, sheet_name, catalog, region, out, result)
        finally:
            table.close()
    except (bounds.TooBig, bounds.Broken) as exc:
        Path(out).unlink(missing_ok=True)
        result.findings[:] = [sheet_finding("SHEET", str(exc), sheet=sheet_name)]
        result.implementations = 0
    return result


def _read(
    table: _Table,
    sheet_name: str | None,
    catalog: Catalog,
    region: str | None,
    out: str | Path,
    result: Sheet,
) -> None:
    findings = result.findings
    header = table.header
    columns, materials = _header(header, sheet_name, findings)
    at = len(findings)
    result.region = _region(table, region, catalog, findings)
    if findings:
        table.drain()  # the merged ranges come after the rows
        findings[:] = [*findings[:at], *_merged(table, header, sheet_name), *findings[at:]]
        return
    assert result.region is not None
    result.origin.columns = {c.field: (letter(i), c.label) for c, i in columns.items()}
    _write(out, catalog.header, _Rows(table, columns, materials, catalog, result))
    table.drain()
    merged = _merged(table, header, sheet_name)
    if merged:  # merged cells stop the reading: what the rows said does not count
        findings[:] = merged
        result.implementations = 0
    elif table.book is not None and POINTS_SHEET in table.book.sheet_names:
        result.service_points = _Points(table.book, catalog, result).read()
    if findings:
        Path(out).unlink()
        result.service_points = None


def _merged(table: _Table, header: list[Cell], sheet_name: str | None) -> list[SheetFinding]:
    found = []
    for (r0, c0), (r1, c1) in table.merged:
        span = f"{letter(c0)}{r0 + 1}:{letter(c1)}{r1 + 1}"
        found.append(
            sheet_finding(
                "SHEET",
                f"合并单元格 {span}：请取消合并，每个单元格只填一个值",
                sheet=sheet_name,
                row=r0 + 1,
                column=letter(c0),
                label=_label_at(header, c0),
            )
        )
    return found


def marked_region(path: str | Path, fmt: Format) -> str | None:
    """The region a workbook's 说明 records (None: a CSV, or none recorded, or not a workbook, or
    one whose 说明 is past the bounds): who may submit it is known before it is read — a sheet
    too big to read says its region still, so its sender hears why it is refused."""
    if fmt != "xlsx":
        return None
    try:
        with bounds.Workbook(Path(path), check=False) as book:
            marked = _marker(book).get("区划")
    except (bounds.TooBig, bounds.Broken):
        return None
    return None if marked is None else marked[0]


# -- opening -----------------------------------------------------------------------------------


def _open(path: Path, fmt: Format) -> tuple[_Table | None, str]:
    if fmt == "csv":
        return _open_csv(path)
    return _open_xlsx(path)


def _open_csv(path: Path) -> tuple[_Table | None, str]:
    encoding = bounds.csv_encoding(path)
    if encoding is None:
        with open(path, "rb") as fh:
            if b"\x00" in fh.read(bounds.CHUNK):
                return None, "文件不是文本（CSV）；Excel 工作簿请以 .xlsx 上传"
        return None, "文件不是 UTF-8 或 GB 18030 编码的 CSV，无法读取；请另存为“CSV UTF-8（逗号分隔）”"
    return _Table(None, bounds.csv_rows(path, encoding)), ""


def _open_xlsx(path: Path) -> tuple[_Table | None, str]:
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            return None, "文件不是 Excel 工作簿（.xlsx），无法读取；请用本系统导出的模板填写"
    book = bounds.Workbook(path)
    try:
        names = book.sheet_names
        if DATA_SHEET not in names:
            shown = "、".join(f"“{n}”" for n in names) or "无"
            book.close()
            return None, f"工作簿中没有名为“{DATA_SHEET}”的工作表（现有：{shown}），不是本系统导出的实施清单"
        marker = _marker(book)
        table = _Table(DATA_SHEET, book.rows(DATA_SHEET), book)
        table.marker = marker
    except BaseException:
        book.close()
        raise
    return table, ""


def _marker(book: bounds.Workbook) -> dict[str, tuple[str, str]]:
    """说明's 格式 and 区划 (its first 20 rows): label -> (value, cell)."""
    marker: dict[str, tuple[str, str]] = {}
    if NOTES_SHEET not in book.sheet_names:
        return marker
    for number, row in book.rows(NOTES_SHEET, stop_after=20):
        label = row[0] if row and isinstance(row[0], str) else ""
        if len(row) >= 2 and label in ("格式", "区划") and row[1] is not None:
            value = plain(row[1]) if isinstance(row[1], str) else row[1]
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # a code typed as a number
            marker[label] = (str(value).strip(), f"B{number}")
    return marker


# -- the header and the region -----------------------------------------------------------------


def _label_at(header: list[Cell], index: int) -> str | None:
    if index < len(header) and isinstance(header[index], str) and header[index].strip():
        return header[index].strip()
    return None


def _header(
    header: list[Cell], sheet: str | None, findings: list[SheetFinding]
) -> tuple[dict[Column, int], list[tuple[int, int]]]:
    """Column -> its index, and (n, index) of the 材料n columns in n order."""
    columns: dict[Column, int] = {}
    materials: list[tuple[int, int]] = []
    unknown: list[str] = []
    for index, raw in enumerate(header):
        label = raw.strip() if isinstance(raw, str) else "" if raw is None else str(raw)
        if not label:
            continue
        column = BY_LABEL.get(label)
        number = material_number(label)
        if (column is not None and column in columns) or (number is not None and number in dict(materials)):
            findings.append(
                sheet_finding(
                    "SHEET",
                    f"列名“{label}”出现了两次",
                    sheet=sheet,
                    row=1,
                    column=letter(index),
                    label=label,
                )
            )
        elif column is not None:
            columns[column] = index
        elif number is not None:
            materials.append((number, index))
        else:
            unknown.append(f"{letter(index)} 列“{label}”")
    missing = [c.label for c in COLUMNS if c not in columns and not c.optional]
    if missing or unknown:
        parts = []
        if missing:
            parts.append("缺少列：" + "、".join(missing))
        if unknown:
            parts.append("不认识的列：" + "、".join(unknown))
        findings.append(
            sheet_finding(
                "SHEET",
                "第一行不是本系统实施清单的列名（"
                + "；".join(parts)
                + "）。请用导出的模板填写，不要改动第一行",
                sheet=sheet,
                row=1,
            )
        )
    return columns, sorted(materials)


def _notes_finding(message: str, cell: str) -> SheetFinding:
    """A SHEET finding about a value in column B of the notes sheet, at `cell` ("B3")."""
    return sheet_finding("SHEET", message, sheet=NOTES_SHEET, row=int(cell[1:]), column="B")


def _region(table: _Table, given: str | None, catalog: Catalog, findings: list[SheetFinding]) -> str | None:
    marked_format = table.marker.get("格式")
    if marked_format is not None and marked_format[0] != FORMAT_NAME:
        findings.append(
            _notes_finding(
                f"“{NOTES_SHEET}”工作表记录的格式是“{marked_format[0]}”，不是本系统的实施清单（{FORMAT_NAME}）",
                marked_format[1],
            )
        )
        return given
    marked = table.marker.get("区划")
    if marked is not None and given is not None and marked[0] != given:
        findings.append(
            _notes_finding(
                f"本表是区划 {marked[0]} 的实施清单，不能作为区划 {given} 的提交（会替换 {given} 的全部实施清单）",
                marked[1],
            )
        )
        return given
    region = given if given is not None else None if marked is None else marked[0]
    if region is None:
        findings.append(
            sheet_finding("SHEET", "没有指明这份实施清单属于哪个区划，请指定区划", sheet=table.sheet)
        )
    elif region not in catalog.regions:
        findings.append(sheet_finding("SHEET", f"目录中没有区划 {region}", sheet=table.sheet))
    return region


# -- the rows ------------------------------------------------------------------------------------


class _Wrong(Exception):
    """A cell that cannot be read; the message is for a clerk."""


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _kind_of(value: Cell) -> str:
    if isinstance(value, bool):
        return f"逻辑值 {'TRUE' if value else 'FALSE'}"
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        return f"日期或时间 {value}"
    if isinstance(value, float) and value.is_integer():
        return f"数字 {int(value)}"
    return f"数字 {value}"


def _text(value: Cell, column: Column) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Wrong(
            f"应为文本，却是{_kind_of(value)}：请把这一列设为文本格式后重新输入（编码作数字会丢失开头的 0）"
        )
    if column.field in ("item", "region", "code", "agency.uscc"):
        cleaned = value.strip()
        if "E+" in cleaned.upper() and cleaned.replace(".", "").upper().replace("E+", "").isdigit():
            raise _Wrong(
                f"“{value}”是 Excel 按科学计数法显示的数字，编码已经损坏；请用 .xlsx 模板，编码列为文本格式"
            )
    if len(value) > column.max_length:
        raise _Wrong(f"超过 {column.max_length} 个字")
    return value


def _number(value: Cell) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Wrong(f"应为数字，却是{_kind_of(value)}")
    if isinstance(value, str):
        try:
            number = float(value.strip().replace(",", ""))
        except ValueError:
            raise _Wrong(f"应为数字，却是文字“{value.strip()}”") from None
    else:
        number = float(value)
    if not math.isfinite(number):
        raise _Wrong("应为数字")
    return number


def _int(value: Cell, column: Column) -> int:
    if _blank(value):
        raise _Wrong("必须填写")
    number = _number(value)
    if not number.is_integer():
        raise _Wrong(f"应为整数，却是 {number:g}")
    whole = int(number)
    if not column.lowest <= whole <= column.highest:
        raise _Wrong(f"应在 {column.lowest} 到 {column.highest} 之间，却是 {whole}")
    return whole


def _fee(value: Cell) -> float:
    if _blank(value):
        return 0.0
    number = _number(value)
    if not 0 <= number <= 1e9:
        raise _Wrong(f"应在 0 到 1000000000 元之间，却是 {number:g}")
    return number


def _type(value: Cell) -> str:
    """An item type by its name (行政许可), its code (01), or both (01 行政许可)."""
    if _blank(value):
        raise _Wrong("必须填写，如“行政许可”")
    if not isinstance(value, str):
        raise _Wrong(f"应为事项类型的名称，如“行政许可”，却是{_kind_of(value)}")
    word = value.strip()
    if word in TYPE_CODES:
        return TYPE_CODES[word]
    code, name = word[:2], word[2:].strip(" \u3000-·")
    if code in ITEM_TYPES and (not name or TYPE_CODES.get(name) == code):
        return code
    raise _Wrong(f"“{word}”不是事项类型；可填：{'、'.join(ITEM_TYPES.values())}")


def _basis(value: Cell, column: Column) -> list[str]:
    text = _text(value, column).replace("\r\n", "\n")
    return text.split("\n") if text else []


CHANNEL_IDS = {word: channel for channel, word in CHANNEL_WORDS.items()}


def _channels(value: Cell, column: Column) -> list[str] | None:
    """Channels by their words (线下窗口) or ids (window), 、-separated; empty: the default
    channels (None), 无: none."""
    text = _text(value, column).strip()
    if not text:
        return None
    if text == NO_CHANNEL:
        return []
    out = []
    for word in notation.codes(text):
        channel = CHANNEL_IDS.get(word, word if word in CHANNEL_WORDS else None)
        if channel is None:
            raise _Wrong(f"“{word}”不是办理渠道；可填：{'、'.join(CHANNEL_WORDS.values())}，或“{NO_CHANNEL}”")
        out.append(channel)
    return out


def _as_item(value: Cell) -> bool | None:
    if _blank(value):
        return None
    if value in (YES, NO):
        return bool(value == YES)
    if isinstance(value, str) and value.strip() in (YES, NO):
        return value.strip() == YES
    raise _Wrong(f"应填“{YES}”或“{NO}”")


PREFILLED = frozenset(c for c in COLUMNS if c.prefilled)
AS_ITEM = BY_LABEL["材料按事项"]
CODE = BY_LABEL["实施编码"]
_PARSE = {
    "text": _text,
    "int": _int,
    "fee": lambda value, column: _fee(value),
    "type": lambda value, column: _type(value),
    "basis": _basis,
    "as_item": lambda value, column: _as_item(value),
    "channels": _channels,
}


class _Rows:
    """Reads the data rows: each a (row number, implementation or None), findings as it goes."""

    def __init__(
        self,
        table: _Table,
        columns: dict[Column, int],
        materials: list[tuple[int, int]],
        catalog: Catalog,
        result: Sheet,
    ) -> None:
        self.table = table
        self.columns = columns
        self.materials = materials
        self.catalog = catalog
        self.result = result
        self.words = notation.Words(catalog.materials, catalog.questions)
        self.known = set(columns.values()) | {i for _, i in materials}

    def __iter__(self) -> Iterator[tuple[int, Implementation | None]]:
        findings = self.result.findings
        for number, cells in self.table.rows:
            if len(findings) >= MAX_FINDINGS:
                return
            before = len(findings)
            impl = self.row(number, cells)
            yield number, impl if len(findings) == before else None

    def wrong(self, row: int, index: int, label: str, message: str, key: str | None) -> None:
        self.result.findings.append(
            sheet_finding(
                "SCHEMA",
                f"{label}：{message}",
                sheet=self.table.sheet,
                row=row,
                column=letter(index),
                label=label,
                kind="implementation",
                key=key,
            )
        )

    def row(self, number: int, cells: list[Cell]) -> Implementation | None:
        def cell(i: int) -> Cell:
            value = cells[i] if i < len(cells) else None
            return None if value == "" else plain(value) if isinstance(value, str) else value

        for i in range(len(cells)):
            if i not in self.known and not _blank(cells[i]):
                self.result.findings.append(
                    sheet_finding(
                        "SHEET",
                        f"{letter(i)} 列第一行没有列名，其中的内容不会导入；若是又一条材料要求，请把列名写作"
                        f"“{material_label(len(self.materials) + 1)}”",
                        sheet=self.table.sheet,
                        row=number,
                        column=letter(i),
                    )
                )
                return None
        values = {column: cell(i) for column, i in self.columns.items()}
        requirement_cells = [(n, i, cell(i)) for n, i in self.materials]
        untouched = all(_blank(v) for c, v in values.items() if c not in PREFILLED) and all(
            _blank(v) for _, _, v in requirement_cells
        )
        if untouched and (_blank(values[AS_ITEM]) or values[AS_ITEM] == YES):
            return None  # an empty row, or a template row nobody filled in
        code_cell = values[CODE]
        key = code_cell.strip() if isinstance(code_cell, str) and code_cell.strip() else None
        parsed: dict[str, Any] = {}
        for column, value in values.items():
            try:
                parsed[column.field] = _PARSE[column.kind](value, column)
            except _Wrong as exc:
                self.wrong(number, self.columns[column], column.label, str(exc), key)
        if not parsed.get("code") and {"agency.uscc", "region", "item"} <= parsed.keys():
            parsed["code"] = key = _derived_code(parsed, self.catalog) or None
            if key is None:
                self.wrong(
                    number,
                    self.columns[CODE],
                    CODE.label,
                    "为空，且无法由统一社会信用代码、区划代码和事项编码生成；请填写",
                    None,
                )
        origin = RowOrigin(code=key or "", item=parsed.get("item", ""), region=parsed.get("region", ""))
        requirements = self.requirements(number, requirement_cells, parsed, origin, key)
        if len(parsed) < len(self.columns) or key is None:
            return None
        try:
            impl = msgspec.convert(
                {
                    **{f: v for f, v in parsed.items() if f not in ("agency.name", "agency.uscc", "as_item")},
                    "agency": {"name": parsed["agency.name"], "uscc": parsed["agency.uscc"]},
                    "materials": None
                    if requirements is None
                    else [msgspec.to_builtins(r) for r in requirements],
                },
                Implementation,
            )
        except msgspec.ValidationError as exc:
            self.out_of_bounds(number, exc, origin, key)
            return None
        self.result.origin.rows[number] = origin
        self.result.origin.codes.setdefault(impl.code, number)
        self.result.implementations += 1
        return impl

    def out_of_bounds(self, number: int, exc: msgspec.ValidationError, origin: RowOrigin, key: str) -> None:
        """A value the model's bounds refuse (a name too long, a requirement id over 64 characters…),
        at its column."""
        text = str(exc)
        at = text.rfind("`$.")
        name = text[at + 3 :].split("`")[0].split("[")[0].split(".")[0] if at >= 0 else ""
        if name == "materials" and origin.requirements:
            label = origin.requirements[0][3]
            index = next(i for n, i in self.materials if f"材料{n}" == label)
        else:
            column = BY_FIELD.get({"agency": "agency.name"}.get(name, name), COLUMNS[0])
            index, label = self.columns[column], column.label
        self.wrong(number, index, label, f"超出允许的范围（{text}）", key)

    def requirements(
        self,
        number: int,
        cells: list[tuple[int, int, Cell]],
        parsed: dict[str, Any],
        origin: RowOrigin,
        key: str | None,
    ) -> list[Requirement] | None:
        """The row's requirements: None when they are the item's (材料按事项 是, or left empty with
        no requirement cell filled), else the cells' in column order."""
        filled = [(n, i, v) for n, i, v in cells if not _blank(v)]
        as_item = parsed.get("as_item")
        if as_item is None:
            as_item = not filled
        if as_item:
            if filled:
                self.wrong(
                    number,
                    filled[0][1],
                    material_label(filled[0][0]),
                    f"材料按事项为“{YES}”（与基本目录相同）时材料列应为空；要按本地情况填写材料，请改为“{NO}”",
                    key,
                )
            return None
        if "item" not in parsed:
            return []  # the item's cell has its finding; which requirements these are depends on it
        item = self.catalog.items.get(parsed["item"])
        taken: set[str] = set()
        out = []
        for n, index, value in filled:
            label = material_label(n)
            if not isinstance(value, str):
                self.wrong(number, index, label, f"应为材料要求的文字，却是{_kind_of(value)}", key)
                continue
            try:
                requirement = notation.read(value, self.words, item, taken)
            except notation.NotationError as exc:
                self.wrong(number, index, label, str(exc), key)
                continue
            named = {
                *requirement.any_of,
                *requirement.when,
                *(a for v in requirement.when.values() for a in v),
            }
            origin.requirements.append((requirement.req, frozenset(named), letter(index), label))
            out.append(requirement)
        return out


# -- the service points (服务场所) ------------------------------------------------------------------


class _Points:
    """Reads the 服务场所 worksheet: a service point per row of the region's subtree, findings at
    their cells as it goes."""

    def __init__(self, book: bounds.Workbook, catalog: Catalog, result: Sheet) -> None:
        self.book = book
        self.catalog = catalog
        self.result = result
        assert result.region is not None
        self.within = subtree(catalog.regions, result.region)

    def wrong(self, row: int, index: int, label: str | None, message: str, key: str | None = None) -> None:
        self.result.findings.append(
            sheet_finding(
                "SCHEMA" if row > 1 else "SHEET",
                message if label is None else f"{label}：{message}",
                sheet=POINTS_SHEET,
                row=row,
                column=letter(index),
                label=label,
                kind="service_point",
                key=key,
            )
        )

    def read(self) -> dict[int, ServicePoint]:
        rows = self.book.rows(POINTS_SHEET)
        first = next(rows, None)
        header = first[1] if first is not None and first[0] == 1 else []
        if first is not None and first[0] != 1:
            rows = itertools.chain([first], rows)
        placed = self.header(header)
        points: dict[int, ServicePoint] = {}
        if placed is None:
            for _ in rows:
                pass
            return points
        columns, windows = placed
        seen: dict[str, int] = {}
        for number, cells in rows:
            if len(self.result.findings) >= MAX_FINDINGS:
                break
            point = self.row(number, cells, columns, windows)
            if point is None:
                continue
            if point.id in seen:
                self.wrong(
                    number,
                    columns[POINT_BY_LABEL["场所编号"]],
                    "场所编号",
                    f"“{point.id}”与第 {seen[point.id]} 行重复",
                    point.id,
                )
                continue
            seen[point.id] = number
            points[number] = point
        for _ in rows:  # the merged ranges come after the rows
            pass
        for (r0, c0), (r1, c1) in self.book.merged:
            self.wrong(
                r0 + 1,
                c0,
                _label_at(header, c0),
                f"合并单元格 {letter(c0)}{r0 + 1}:{letter(c1)}{r1 + 1}：请取消合并，每个单元格只填一个值",
            )
        return points

    def header(self, header: list[Cell]) -> tuple[dict[Column, int], list[tuple[int, int]]] | None:
        """Column -> index and (n, index) of the 窗口n columns; None (with a finding) when the
        header is not the points sheet's."""
        columns: dict[Column, int] = {}
        windows: dict[int, int] = {}
        problems: list[str] = []
        for index, raw in enumerate(header):
            label = raw.strip() if isinstance(raw, str) else "" if raw is None else str(raw)
            if not label:
                continue
            column, number = POINT_BY_LABEL.get(label), window_number(label)
            if column in columns or number in windows:
                problems.append(f"列名“{label}”出现了两次")
            elif column is not None:
                columns[column] = index
            elif number is not None:
                windows[number] = index
            else:
                problems.append(f"不认识的列：{letter(index)} 列“{label}”")
        missing = [c.label for c in POINT_COLUMNS if c not in columns]
        if missing:
            problems.insert(0, "缺少列：" + "、".join(missing))
        if problems:
            self.wrong(
                1,
                0,
                None,
                "第一行不是服务场所表的列名（"
                + "；".join(problems)
                + "）。请用导出的模板填写，不要改动第一行",
            )
            return None
        return columns, sorted(windows.items())

    def row(
        self, number: int, cells: list[Cell], columns: dict[Column, int], windows: list[tuple[int, int]]
    ) -> ServicePoint | None:
        def cell(i: int) -> Cell:
            value = cells[i] if i < len(cells) else None
            return None if value == "" else plain(value) if isinstance(value, str) else value

        known = set(columns.values()) | {i for _, i in windows}
        for i in range(len(cells)):
            if i not in known and not _blank(cells[i]):
                self.wrong(
                    number,
                    i,
                    None,
                    f"{letter(i)} 列第一行没有列名，其中的内容不会导入；若是又一个窗口，请把列名写作"
                    f"“{window_label(len(windows) + 1)}”",
                )
                return None
        values = {column: cell(i) for column, i in columns.items()}
        window_cells = [(n, i, cell(i)) for n, i in windows]
        if all(_blank(v) for v in values.values()) and all(_blank(v) for _, _, v in window_cells):
            return None
        before = len(self.result.findings)
        key_cell = values[POINT_BY_LABEL["场所编号"]]
        key = key_cell.strip() if isinstance(key_cell, str) and key_cell.strip() else None
        parsed: dict[str, Any] = {}
        for column, value in values.items():
            index = columns[column]
            try:
                parsed[column.field] = self.value(column, value)
            except _Wrong as exc:
                self.wrong(number, index, column.label, str(exc), key)
        found = []
        for n, index, value in window_cells:
            if _blank(value):
                continue
            label = window_label(n)
            if not isinstance(value, str):
                self.wrong(number, index, label, f"应为窗口的文字，却是{_kind_of(value)}", key)
                continue
            try:
                window = notation.read_window(value)
            except notation.NotationError as exc:
                self.wrong(number, index, label, str(exc), key)
                continue
            self.unknown_items(number, index, label, window.items, key)
            found.append(window)
        if "assists" in parsed:
            self.unknown_items(
                number, columns[POINT_BY_LABEL["代办事项"]], "代办事项", parsed["assists"], key
            )
        if len(self.result.findings) > before:
            return None
        lon, lat = parsed.pop("location.lon"), parsed.pop("location.lat")
        if (lon is None) != (lat is None):
            blank = "经度" if lon is None else "纬度"
            self.wrong(number, columns[POINT_BY_LABEL[blank]], blank, "经度和纬度应同时填写或同时留空", key)
            return None
        try:
            return msgspec.convert(
                {
                    **parsed,
                    "location": None if lon is None else {"lon": lon, "lat": lat},
                    "windows": [msgspec.to_builtins(w) for w in found],
                },
                ServicePoint,
            )
        except msgspec.ValidationError as exc:
            self.wrong(number, 0, None, f"超出允许的范围（{exc}）", key)
            return None

    def value(self, column: Column, value: Cell) -> Any:
        if column.kind == "degrees":
            if _blank(value):
                return None
            number = _number(value)
            if not column.lowest <= number <= column.highest:
                raise _Wrong(f"应在 {column.lowest} 到 {column.highest} 之间，却是 {number:g}")
            return number
        text = _text(value, column)
        if column.kind == "codes":
            return notation.codes(text)
        if column.field in ("id", "name", "region") and not text.strip():
            raise _Wrong("必须填写")
        if column.field == "region" and text not in self.within:
            raise _Wrong(f"“{text}”不是本区划（{self.result.region}）或其下级区划的代码")
        return text

    def unknown_items(self, number: int, index: int, label: str, codes: list[str], key: str | None) -> None:
        unknown = [c for c in codes if c not in self.catalog.items]
        if unknown:
            self.wrong(number, index, label, f"目录中没有事项 {'、'.join(unknown)}", key)


def _derived_code(parsed: dict[str, Any], catalog: Catalog) -> str:
    """USCC + the region's level digit + item code (§2), or "" when a part is missing."""
    region = catalog.regions.get(parsed["region"])
    uscc, item = parsed["agency.uscc"], parsed["item"]
    if region is None or not uscc or not item:
        return ""
    return uscc + LEVEL_DIGIT[region.level] + item


def _write(out: str | Path, header: Header, lines: Iterable[tuple[int, Implementation | None]]) -> None:
    """The partial submission: the header on line 1, row n's implementation on line n (written as
    the rows are read)."""
    encode = record_encoder.encode
    with open(out, "wb") as fh:
        fh.write(encode(header) + b"\n")
        at = 1
        for row, impl in lines:
            fh.write(b"\n" * (row - at - 1))
            fh.write(b"\n" if impl is None else encode(impl) + b"\n")
            at = row
