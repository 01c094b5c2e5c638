"""How big a sheet may be, and reading one within those bounds: an `.xlsx` parsed as a stream
(the zip's members checked first, the worksheet XML fed to expat a chunk at a time, a row at a
time handed on) and a `.csv` read a line at a time — so what reading holds in memory does not
grow with the sheet, and a sheet past a bound is refused (`TooBig`, its message for a clerk)
as soon as the bound is passed.

The bounds, and why:

- rows: a region's list is a row per implementation of its subtree plus a template row per item
  it could implement; a county has hundreds, a province tens of thousands (the fixture's
  province: 1,218; the largest Chinese provinces, ~130 counties × a few hundred items, stay
  under 60,000). `MAX_ROWS` = 100,000 data rows leaves room for that; a bigger list goes in by
  its cities.
- columns: 19 fixed ones and a 材料n column per requirement, of which an implementation has at
  most 200 (the model's bound): `MAX_COLUMNS` = 256.
- cells: a filled row has about 20 cells (the fixed ones and a few requirements), so 100,000
  rows are about 2 million; `MAX_CELLS` = 5,000,000 counts every cell element the worksheet
  holds (empty formatted ones included), 2.5 times that.
- a cell: 32,767 characters, Excel's own limit (`MAX_CELL_CHARS`).
- bytes: our export of the fixture's province is 1,275 bytes of worksheet XML a row (so 100,000
  rows ≈ 130 MB) and 444 bytes of CSV a row (≈ 45 MB): `MAX_SHEET_XML` = 256 MiB,
  `MAX_CSV_BYTES` = 128 MiB, `MAX_STRINGS_XML` (the shared strings Excel writes instead of
  inline text) = 128 MiB, any other member 16 MiB, 512 MiB in all; a CSV line 1 MiB.
- compression: that worksheet compresses 10 to 1; a member of more than 1 MiB compressed more
  than 100 to 1 (`MAX_RATIO`) is not a list of implementations.

The 服务场所 worksheet (a row per service point of the subtree: a county has one per township
and village, hundreds; a province tens of thousands) is read within the same bounds; its points
are the one thing reading keeps (`Sheet.service_points`), at most `MAX_ROWS` of them.

Shared strings are the one table kept whole (a cell names its string by number): they are kept
as UTF-8 in one buffer with an offset per string, bounded by `MAX_STRINGS_XML`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import posixpath
import re
import zipfile
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self
from xml.parsers import expat

MAX_ROWS = 100_000
MAX_COLUMNS = 256
MAX_CELLS = 5_000_000
MAX_CELL_CHARS = 32_767
MAX_SHEET_XML = 256 << 20
MAX_STRINGS_XML = 128 << 20
MAX_OTHER_XML = 16 << 20
MAX_UNZIPPED = 512 << 20
MAX_MEMBERS = 1_000
MAX_RATIO = 100
RATIO_FROM = 1 << 20
MAX_CSV_BYTES = 128 << 20
MAX_CSV_LINE = 1 << 20
MAX_MERGED = 1_000
CHUNK = 1 << 16

Cell = Any
Row = tuple[int, list[Cell]]
"""(the row's number, 1 the first; its cells from column A, None for an empty one)."""


class TooBig(ValueError):
    """A sheet past one of the bounds; the message is for a clerk."""


class Broken(ValueError):
    """A workbook that cannot be read; the message is for a clerk."""


NOT_INTACT = "文件不是完好的 Excel 工作簿（.xlsx），无法读取"


def _mib(size: int) -> str:
    return f"{size >> 20} MB"


def rows_exceeded() -> TooBig:
    return TooBig(
        f"表格超过 {MAX_ROWS:,} 行，超出一个区划实施清单的行数上限；请按下级区划分别导出、填写和提交"
    )


def cells_exceeded() -> TooBig:
    return TooBig(f"表格的单元格超过 {MAX_CELLS:,} 个，超出一个区划实施清单的上限；请按下级区划分别提交")


def columns_exceeded(column: int) -> TooBig:
    return TooBig(f"第 {column:,} 列有内容，超过了实施清单最多 {MAX_COLUMNS} 列的上限")


def cell_too_long(where: str) -> TooBig:
    return TooBig(f"{where}超过 {MAX_CELL_CHARS:,} 个字符（Excel 单元格的上限），不是实施清单的内容")


# -- .xlsx -------------------------------------------------------------------------------------

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_DATE_IDS = frozenset([*range(14, 23), *range(27, 37), *range(45, 48), *range(50, 59)])
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_QUOTED_OR_BRACKETED = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')


def _unescape(text: str) -> str:
    """OOXML's `_xHHHH_` escapes (a control character, or `_x005F_` for a literal underscore)."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "_x" in text else text


_LOCAL: dict[str, str] = {}


def _local(name: str) -> str:
    local = _LOCAL.get(name)
    if local is None:
        local = name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]
        if len(_LOCAL) < 10_000:
            _LOCAL[name] = local
    return local


def _parser() -> Any:
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.buffer_size = CHUNK

    def no_doctype(*_: Any) -> None:
        raise Broken(NOT_INTACT + "（含有 DOCTYPE）")

    parser.StartDoctypeDeclHandler = no_doctype
    parser.EntityDeclHandler = no_doctype
    return parser


def column_index(ref: str) -> int:
    """0-based column of a cell reference (`B7` → 1), -1 when it has no letters."""
    index = 0
    for ch in ref:
        if "A" <= ch <= "Z":
            index = index * 26 + ord(ch) - 64
        elif "a" <= ch <= "z":
            index = index * 26 + ord(ch) - 96
        else:
            break
        if index > 1 << 20:
            break
    return index - 1


_COLUMNS: dict[str, int] = {}


def _column_of(ref: str) -> int:
    """`column_index`, remembered by the reference's letters (a sheet has few columns)."""
    letters = ref.rstrip("0123456789")
    found = _COLUMNS.get(letters)
    if found is None:
        found = column_index(letters)
        if len(_COLUMNS) < 10_000:
            _COLUMNS[letters] = found
    return found


def _ref_row(ref: str) -> int | None:
    digits = ref.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    return int(digits) if digits.isdigit() and len(digits) <= 9 else None


class Workbook:
    """An `.xlsx` opened for reading within the bounds: `sheet_names`, and `rows(name)` — a
    worksheet's rows as a stream, its merged ranges in `merged` once the stream is through.
    Broken: not a workbook we can read; TooBig: past a bound (both before any row). `check`
    False skips the whole zip's sizes and ratios (each member read is bounded still)."""

    def __init__(self, path: Path, *, check: bool = True) -> None:
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError):
            raise Broken(NOT_INTACT) from None
        try:
            self._sheets = self._workbook()  # its small parts, each read within its bound
            if check:
                self._check()
        except BaseException:
            self.zip.close()
            raise
        self.sheet_names = list(self._sheets)
        self.merged: list[tuple[tuple[int, int], tuple[int, int]]] = []
        self._strings: tuple[bytearray, array] | None = None
        self._dates: list[bool] | None = None

    def close(self) -> None:
        self.zip.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the zip -----------------------------------------------------------------------------
    def _check(self) -> None:
        members = self.zip.infolist()
        if len(members) > MAX_MEMBERS:
            raise TooBig(f"工作簿含有 {len(members):,} 个部件，不是实施清单")
        total = 0
        for info in members:
            size = info.file_size
            total += size
            if size > MAX_SHEET_XML:
                raise TooBig(
                    f"{self._part_name(info.filename)}解压后有 {_mib(size)}，超过 {_mib(MAX_SHEET_XML)} 的上限；"
                    "请按下级区划分别提交"
                )
            if size > RATIO_FROM and size > MAX_RATIO * max(info.compress_size, 1):
                raise TooBig(
                    f"{self._part_name(info.filename)}的压缩比异常（{size // max(info.compress_size, 1):,} 比 1，"
                    f"上限 {MAX_RATIO} 比 1），不是实施清单"
                )
        if total > MAX_UNZIPPED:
            raise TooBig(f"工作簿解压后共 {_mib(total)}，超过 {_mib(MAX_UNZIPPED)} 的上限")

    def _part_name(self, member: str) -> str:
        """A member as a clerk knows it: the worksheet by its name, else a part of the workbook."""
        names = {m: n for n, m in getattr(self, "_sheets", {}).items()}
        if member in names:
            return f"工作表“{names[member]}”"
        if member.startswith("xl/worksheets/"):
            return "一个工作表"
        if member.endswith("sharedStrings.xml"):
            return "工作簿的文字表"
        return "工作簿的一个部件"

    def _chunks(self, name: str, limit: int) -> Iterator[bytes]:
        """A member's bytes a chunk at a time, at most `limit` of them (whatever it declares)."""
        try:
            info = self.zip.getinfo(name)
        except KeyError:
            raise Broken(NOT_INTACT + "（缺少部件）") from None
        if info.file_size > limit:
            raise TooBig(f"{self._part_name(name)}解压后有 {_mib(info.file_size)}，超过 {_mib(limit)} 的上限")
        read = 0
        try:
            with self.zip.open(info) as fh:
                while chunk := fh.read(CHUNK):
                    read += len(chunk)
                    if read > limit:
                        raise TooBig(f"{self._part_name(name)}解压后超过 {_mib(limit)} 的上限")
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError):
            raise Broken(NOT_INTACT) from None

    def _parse(self, name: str, limit: int, parser: Any, done: Any = None) -> None:
        """Feed a member to `parser`; `done()` true stops early."""
        try:
            for chunk in self._chunks(name, limit):
                parser.Parse(chunk, False)
                if done is not None and done():
                    return
            parser.Parse(b"", True)
        except expat.ExpatError:
            raise Broken(NOT_INTACT) from None

    def _small(self, name: str) -> list[tuple[str, dict[str, str]]]:
        """The elements of a small member: (local name, attributes with local names)."""
        found: list[tuple[str, dict[str, str]]] = []
        parser = _parser()

        def start(tag: str, attrs: dict[str, str]) -> None:
            if len(found) > 100_000:
                raise TooBig(f"{self._part_name(name)}过大，不是实施清单")
            found.append((_local(tag), {_local(k): v for k, v in attrs.items()}))

        parser.StartElementHandler = start
        self._parse(name, MAX_OTHER_XML, parser)
        return found

    def _rels(self, owner: str) -> dict[str, tuple[str, str]]:
        """A part's relationships: id -> (type's last word, member name)."""
        folder, base = posixpath.split(owner)
        name = posixpath.join(folder, "_rels", base + ".rels")
        if name not in self.zip.NameToInfo:
            return {}
        out = {}
        for tag, attrs in self._small(name):
            if tag == "Relationship" and "Id" in attrs and "Target" in attrs:
                target = attrs["Target"]
                member = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
                out[attrs["Id"]] = (attrs.get("Type", "").rsplit("/", 1)[-1], posixpath.normpath(member))
        return out

    def _workbook(self) -> dict[str, str]:
        """Worksheet name -> its member."""
        book = "xl/workbook.xml"
        for tag, attrs in self._small("_rels/.rels") if "_rels/.rels" in self.zip.NameToInfo else []:
            if tag == "Relationship" and attrs.get("Type", "").endswith("/officeDocument"):
                book = attrs.get("Target", book).lstrip("/")
        if book not in self.zip.NameToInfo:
            raise Broken("文件不是 Excel 工作簿（.xlsx），无法读取；请用本系统导出的模板填写")
        self._book = book
        self._book_rels = rels = self._rels(book)
        sheets = {}
        for tag, attrs in self._small(book):
            if tag == "sheet" and "name" in attrs:
                kind, member = rels.get(attrs.get("id", ""), ("", ""))
                if kind == "worksheet":
                    sheets[attrs["name"]] = member
        return sheets

    # -- shared strings and date formats -------------------------------------------------------
    def _part(self, kind: str, default: str) -> str | None:
        member = next((m for k, m in self._book_rels.values() if k == kind), default)
        return member if member in self.zip.NameToInfo else None

    def strings(self) -> tuple[bytearray, array]:
        """The shared strings: their UTF-8 one after another, and where each ends."""
        if self._strings is not None:
            return self._strings
        text, ends = bytearray(), array("Q")
        self._strings = (text, ends)
        member = self._part("sharedStrings", "xl/sharedStrings.xml")
        if member is None:
            return self._strings
        parser = _parser()
        state = {"depth_rph": 0, "in_t": False, "size": 0}
        parts: list[str] = []

        def start(tag: str, attrs: dict[str, str]) -> None:
            local = _local(tag)
            if local == "si":
                parts.clear()
                state["size"] = 0
            elif local == "rPh":
                state["depth_rph"] += 1
            elif local == "t" and not state["depth_rph"]:
                state["in_t"] = True

        def end(tag: str) -> None:
            local = _local(tag)
            if local == "si":
                text.extend(_unescape("".join(parts)).encode())
                ends.append(len(text))
                if len(ends) > MAX_CELLS:
                    raise cells_exceeded()
            elif local == "rPh":
                state["depth_rph"] -= 1
            elif local == "t":
                state["in_t"] = False

        def data(chunk: str) -> None:
            if state["in_t"]:
                state["size"] += len(chunk)
                if state["size"] > MAX_CELL_CHARS:
                    raise cell_too_long("工作簿中的一段文字")
                parts.append(chunk)

        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = data
        self._parse(member, MAX_STRINGS_XML, parser)
        return self._strings

    def string(self, index: int) -> str:
        text, ends = self.strings()
        if not 0 <= index < len(ends):
            raise Broken(NOT_INTACT + "（引用了不存在的共享字符串）")
        return text[ends[index - 1] if index else 0 : ends[index]].decode()

    def dates(self) -> list[bool]:
        """Per cell style: does it show its number as a date or time?"""
        if self._dates is not None:
            return self._dates
        self._dates = []
        member = self._part("styles", "xl/styles.xml")
        if member is None:
            return self._dates
        custom: dict[str, bool] = {}
        in_xfs = False
        for tag, attrs in self._small(member):
            if tag == "numFmt" and "numFmtId" in attrs:
                code = _QUOTED_OR_BRACKETED.sub("", attrs.get("formatCode", "")).lower()
                custom[attrs["numFmtId"]] = any(ch in code for ch in "ymdhs") and "general" not in code
            elif tag == "cellXfs":
                in_xfs = True
            elif tag in ("cellStyleXfs", "cellStyles", "dxfs"):
                in_xfs = False
            elif tag == "xf" and in_xfs:
                fmt = attrs.get("numFmtId", "0")
                self._dates.append(custom.get(fmt, fmt.isdigit() and int(fmt) in _DATE_IDS))
        return self._dates

    # -- a worksheet ---------------------------------------------------------------------------
    def _count(self, member: str) -> None:
        """Count a worksheet's rows and cells before parsing it (at the speed of inflating):
        a sheet past the bounds is refused without parsing a row. The parse counts again, exactly."""
        rows = cells = 0
        tail = b""
        for chunk in self._chunks(member, MAX_SHEET_XML):
            text = tail + chunk
            cut = len(text) - 8
            seen, tail = text[:cut], text[cut:]
            rows += seen.count(b"<row ") + seen.count(b"<row>")
            cells += seen.count(b"<c ") + seen.count(b"<c>") + seen.count(b"<c/>")
            if rows > MAX_ROWS + 1:
                raise rows_exceeded()
            if cells > MAX_CELLS:
                raise cells_exceeded()

    def rows(self, name: str, *, stop_after: int | None = None) -> Iterator[Row]:
        """The rows of worksheet `name` that hold a cell, in order (`stop_after`: only the rows up
        to that number are wanted). TooBig past a bound, Broken for a damaged worksheet."""
        reader = _SheetReader(self, stop_after)
        parser = _parser()
        parser.StartElementHandler = reader.start
        parser.EndElementHandler = reader.end
        parser.CharacterDataHandler = reader.data
        self.merged = reader.merged
        if stop_after is None:
            self._count(self._sheets[name])
        try:
            for chunk in self._chunks(self._sheets[name], MAX_SHEET_XML):
                parser.Parse(chunk, False)
                yield from reader.done
                reader.done.clear()
                if reader.stopped:
                    return
            parser.Parse(b"", True)
        except expat.ExpatError:
            raise Broken(NOT_INTACT) from None
        yield from reader.done


class _SheetReader:
    """expat handlers for a worksheet: finished rows collect in `done` (at most a chunk's worth)."""

    def __init__(self, book: Workbook, stop_after: int | None) -> None:
        self.book = book
        self.stop_after = stop_after
        self.stopped = False
        self.done: list[Row] = []
        self.merged: list[tuple[tuple[int, int], tuple[int, int]]] = []
        self.row_number = 0
        self.row_elements = 0
        self.cells: dict[int, Cell] = {}
        self.cell_count = 0
        self.column = -1
        self.kind = "n"
        self.style = 0
        self.capture = False
        self.inline = False
        self.rph = 0
        self.text: list[str] = []
        self.size = 0
        self.value: str | None = None
        self.in_data = False
        self.dates: list[bool] | None = None

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        local = _LOCAL.get(tag) or _local(tag)
        if local == "c" and self.in_data:
            self.cell_count += 1
            if self.cell_count > MAX_CELLS:
                raise cells_exceeded()
            ref = attrs.get("r")
            self.column = _column_of(ref) if ref else self.column + 1
            if self.column < 0:
                raise Broken(NOT_INTACT + f"（单元格引用“{ref}”无效）")
            self.kind = attrs.get("t", "n")
            style = attrs.get("s", "0")
            self.style = int(style) if style.isdigit() and len(style) < 9 else 0
            self.value = None
            self.inline = False
        elif local == "row" and self.in_data:
            self.row_elements += 1
            if self.row_elements > MAX_ROWS + 1:
                raise rows_exceeded()
            r = attrs.get("r")
            number = int(r) if r is not None and r.isdigit() and len(r) <= 9 else self.row_number + 1
            if number <= self.row_number:
                raise Broken(NOT_INTACT + "（行的顺序错乱）")
            self.row_number = number
            self.cells = {}
            self.column = -1
        elif local == "v" and self.in_data:
            self._begin()
        elif local == "is":
            self.inline = True
            self._begin()
        elif local == "rPh":
            self.rph += 1
        elif local == "sheetData":
            self.in_data = True
        elif local == "mergeCell" and len(self.merged) < MAX_MERGED:
            first, _, last = attrs.get("ref", "").partition(":")
            r0, r1 = _ref_row(first), _ref_row(last or first)
            c0, c1 = column_index(first), column_index(last or first)
            if r0 and r1 and c0 >= 0 and c1 >= 0:
                self.merged.append(((r0 - 1, c0), (r1 - 1, c1)))

    def _begin(self) -> None:
        self.capture = True
        self.text = []
        self.size = 0

    def data(self, chunk: str) -> None:
        if self.capture and not self.rph:
            self.size += len(chunk)
            if self.size > MAX_CELL_CHARS * 2:  # escapes (`_x000D_`) take 7 for 1
                raise cell_too_long(f"第 {self.row_number:,} 行的单元格")
            self.text.append(chunk)

    def end(self, tag: str) -> None:
        local = _LOCAL.get(tag) or _local(tag)
        if (local == "v" and self.capture) or local == "is":
            self.capture = False
            self.value = "".join(self.text)
        elif local == "rPh":
            self.rph -= 1
        elif local == "c" and self.in_data:
            value = self._value()
            if value is not None and value != "":
                if self.column >= MAX_COLUMNS:
                    raise columns_exceeded(self.column + 1)
                self.cells[self.column] = value
        elif local == "row" and self.in_data:
            if self.stop_after is not None and self.row_number > self.stop_after:
                self.stopped = True
                return
            if self.cells:
                row: list[Cell] = [None] * (max(self.cells) + 1)
                for column, value in self.cells.items():
                    row[column] = value
                self.done.append((self.row_number, row))
            if self.stop_after is not None and self.row_number >= self.stop_after:
                self.stopped = True
        elif local == "sheetData":
            self.in_data = False

    def _value(self) -> Cell:
        raw, kind = self.value, self.kind
        if raw is None:
            return None
        if kind == "inlineStr" or self.inline:
            text = _unescape(raw)
        elif kind == "s":
            if not raw.strip().isdigit():
                raise Broken(NOT_INTACT + "（共享字符串的编号无效）")
            text = self.book.string(int(raw))
        elif kind in ("str", "e"):
            text = _unescape(raw)
        elif kind == "b":
            return raw.strip() in ("1", "true")
        elif kind == "d":
            try:
                return dt.datetime.fromisoformat(raw.strip())
            except ValueError:
                return raw
        else:
            try:
                number = float(raw)
            except ValueError:
                raise Broken(NOT_INTACT + f"（第 {self.row_number:,} 行有无效的数字）") from None
            if self.dates is None:
                self.dates = self.book.dates()
            dates = self.dates
            if self.style and self.style < len(dates) and dates[self.style] and 0 <= number < 2_958_466:
                return dt.datetime(1899, 12, 30) + dt.timedelta(days=number)
            return number
        if len(text) > MAX_CELL_CHARS:
            raise cell_too_long(f"第 {self.row_number:,} 行的单元格")
        return text


# -- .csv --------------------------------------------------------------------------------------


def csv_encoding(path: Path) -> str | None:
    """`utf-8-sig` or `gb18030`, whichever decodes the whole file (read a chunk at a time), None
    for neither or for a file with NUL bytes (not text). TooBig past `MAX_CSV_BYTES`."""
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise TooBig(f"CSV 文件有 {_mib(size)}，超过 {_mib(MAX_CSV_BYTES)} 的上限；请按下级区划分别提交")
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(path, "rb") as fh:
                while chunk := fh.read(CHUNK * 16):
                    if b"\x00" in chunk:
                        return None
                    decoder.decode(chunk)
                decoder.decode(b"", True)
        except UnicodeDecodeError:
            continue
        return encoding
    return None


def _lines(fh: Any) -> Iterator[str]:
    while line := fh.readline(MAX_CSV_LINE + 1):
        if len(line) > MAX_CSV_LINE:
            raise TooBig(f"CSV 文件中有一行超过 {MAX_CSV_LINE:,} 个字符，不是实施清单的内容")
        yield line


def csv_rows(path: Path, encoding: str) -> Iterator[Row]:
    """The records of a CSV in order, numbered from 1 (a record may span lines), within the bounds."""
    cells = 0
    with open(path, encoding=encoding, newline="") as fh:
        reader = csv.reader(_lines(fh))
        number = 0
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error:
                raise TooBig(
                    f"CSV 文件第 {number + 1:,} 条记录无法读取（单元格过长，或引号不成对）"
                ) from None
            number += 1
            if any(len(cell) > MAX_CELL_CHARS for cell in record):
                raise cell_too_long(f"CSV 文件第 {number:,} 条记录的单元格")
            if number > MAX_ROWS + 1:
                raise rows_exceeded()
            cells += len(record)
            if cells > MAX_CELLS:
                raise cells_exceeded()
            while record and record[-1] == "":
                record.pop()
            if len(record) > MAX_COLUMNS:
                raise columns_exceeded(len(record))
            yield number, list(record)
