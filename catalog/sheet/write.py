"""A region's implementation list as a sheet: `.xlsx` (xlsxwriter) or `.csv` (UTF-8 with a BOM).

One row per implementation of the region's subtree, then — as the template — one row per item
the region itself could implement and does not yet, with only what the item fixes filled in
(region, item code and name, type, basis, statutory days, 材料按事项 是). Rows come in (region,
item, code) order. The rows pass through a temporary file, never all in memory: the header
needs to know how many requirement columns the rows use before the first row is written.
Every text cell is written `formula.neutral`: none is a formula a spreadsheet would evaluate.
"""

from __future__ import annotations

import csv
import heapq
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Literal

import msgspec

from ..model import ITEM_TYPES, Catalog, Implementation, Item, ServicePoint
from ..tree import lineage, subtree
from ..words import level_name
from . import notation
from .columns import (
    CHANNEL_WORDS,
    COLUMNS,
    DATA_SHEET,
    FORMAT_NAME,
    LIST_SEPARATOR,
    MATERIAL_NOTE,
    MATERIAL_WIDTH,
    NO,
    NO_CHANNEL,
    NOTES_SHEET,
    POINT_COLUMNS,
    POINTS_SHEET,
    WINDOW_NOTE,
    WINDOW_WIDTH,
    YES,
    material_label,
    window_label,
)
from .formula import neutral

Format = Literal["xlsx", "csv"]
Value = str | int | float | None
Row = tuple[list[Value], list[str]]
"""The fixed columns' values (None: an empty cell) and the requirement cells."""

BOM = "\ufeff"
MAX_ROW = 1_048_575
"""The last row of a worksheet (0-based): data validation covers every row a clerk may add."""


class TooManyRows(ValueError):
    """More rows than a worksheet holds (Excel's 1,048,576 less the header): a CSV has no limit."""

    def __init__(self, rows: int, limit: int = MAX_ROW) -> None:
        super().__init__(f"{rows:,} rows do not fit in an Excel worksheet ({limit:,} at most); write CSV")
        self.rows = rows


def implementable(catalog: Catalog, region: str) -> list[Item]:
    """The items `region` itself may implement: its level among the item's levels, and an item
    a province owns only inside that province. In code order."""
    found = catalog.regions.get(region)
    if found is None:
        return []
    path = set(lineage(catalog.regions, region))
    return [
        item
        for _, item in sorted(catalog.items.items())
        if found.level in item.levels and (item.owner == "000000" or item.owner in path)
    ]


def implementation_row(impl: Implementation, words: notation.Words, item: Item | None = None) -> Row:
    values: list[Value] = []
    for column in COLUMNS:
        field = column.field
        if field == "as_item":
            values.append(YES if impl.materials is None else NO)
        elif field == "agency.name":
            values.append(impl.agency.name or None)
        elif field == "agency.uscc":
            values.append(impl.agency.uscc or None)
        elif field == "type":
            values.append(ITEM_TYPES[impl.type])
        elif field == "basis":
            values.append("\n".join(impl.basis) or None)
        elif field == "channels":
            values.append(channels_text(impl.channels))
        else:
            value = getattr(impl, field)
            values.append(None if value == "" else value)
    taken: set[str] = set()
    return values, [notation.write(r, words, item, taken) for r in impl.materials or ()]


def channels_text(channels: Sequence[str] | None) -> str | None:
    """The 办理渠道 cell: None (empty) for the default channels, 无 for none at all."""
    if channels is None:
        return None
    return LIST_SEPARATOR.join(CHANNEL_WORDS[c] for c in channels) or NO_CHANNEL


def points_of(catalog: Catalog, region: str) -> list[ServicePoint]:
    """The service points standing in `region`'s subtree, in (region, id) order."""
    within = subtree(catalog.regions, region)
    return sorted(
        (p for p in catalog.service_points.values() if p.region in within), key=lambda p: (p.region, p.id)
    )


def point_row(point: ServicePoint) -> tuple[list[Value], list[str]]:
    """A service point's cells: the fixed columns (None: empty) and its windows."""
    values: list[Value] = []
    for column in POINT_COLUMNS:
        if column.field == "assists":
            values.append(LIST_SEPARATOR.join(point.assists) or None)
        elif column.field.startswith("location."):
            values.append(None if point.location is None else getattr(point.location, column.field[9:]))
        else:
            values.append(getattr(point, column.field) or None)
    return values, [notation.write_window(w) for w in point.windows]


def template_row(region: str, item: Item) -> Row:
    filled: dict[str, Value] = {
        "region": region,
        "item": item.code,
        "name": item.name or None,
        "type": ITEM_TYPES[item.type],
        "basis": "\n".join(item.basis) or None,
        "statutory_days": item.statutory_days,
        "as_item": YES,
    }
    return [filled.get(c.field) for c in COLUMNS], []


def write(
    out: BinaryIO | str | Path,
    fmt: Format,
    region: str,
    catalog: Catalog,
    implementations: Iterable[Implementation],
    *,
    version: int | None = None,
    progress: Callable[[int], None] | None = None,
    max_rows: int = MAX_ROW,
) -> int:
    """Write the sheet of `region` (xlsx: `out` must be a path or a seekable binary file).
    `catalog` holds the small records (regions, items, materials, questions; its header names the
    catalog version); `implementations` are those of the region's subtree, best in (region, item,
    code) order. Returns the number of rows written (template rows included). TooManyRows: an
    .xlsx would not hold them all (nothing is written then; a row lost would be an implementation
    removed on the way back)."""
    if region not in catalog.regions:
        raise KeyError(region)
    words = notation.Words(catalog.materials, catalog.questions)
    with tempfile.TemporaryFile() as spool:
        width, items, count = _spool(spool, implementations, words, catalog, region, progress)
        template = [item for item in implementable(catalog, region) if item.code not in items]
        for item in template:
            width = max(width, len(item.materials))
        items.update(item.code for item in template)
        rows = heapq.merge(
            _unspool(spool),
            (((region, item.code, ""), template_row(region, item)) for item in template),
            key=lambda keyed: keyed[0],
        )
        width = max(width, 1)
        if fmt == "xlsx" and count + len(template) > max_rows:
            raise TooManyRows(count + len(template), max_rows)
        if fmt == "csv":
            _csv(out, width, (row for _, row in rows))
        else:
            _xlsx(out, width, (row for _, row in rows), catalog, region, sorted(items), version)
            # (a CSV is one table: the service points travel in the workbook only)
    return count + len(template)


_row_encoder = msgspec.msgpack.Encoder()
_row_decoder = msgspec.msgpack.Decoder(tuple[tuple[str, str, str], tuple[list[Value], list[str]]])


def _spool(
    spool: BinaryIO,
    implementations: Iterable[Implementation],
    words: notation.Words,
    catalog: Catalog,
    region: str,
    progress: Callable[[int], None] | None,
) -> tuple[int, set[str], int]:
    """The implementations' rows to `spool`, length-prefixed; (requirement columns they need,
    the items they implement, how many)."""
    width = count = 0
    items: set[str] = set()
    for impl in implementations:
        item = catalog.items.get(impl.item)
        values, materials = implementation_row(impl, words, item)
        width = max(
            width, len(materials) if impl.materials is not None or item is None else len(item.materials)
        )
        if impl.region == region:
            items.add(impl.item)
        body = _row_encoder.encode(((impl.region, impl.item, impl.code), (values, materials)))
        spool.write(len(body).to_bytes(4, "little") + body)
        count += 1
        if progress is not None and not count % 500:
            progress(count)
    if progress is not None:
        progress(count)
    spool.seek(0)
    return width, items, count


def _unspool(spool: BinaryIO) -> Iterator[tuple[tuple[str, str, str], Row]]:
    while size := spool.read(4):
        key, (values, materials) = _row_decoder.decode(spool.read(int.from_bytes(size, "little")))
        yield key, (values, materials)


def labels(width: int) -> list[str]:
    return [c.label for c in COLUMNS] + [material_label(n) for n in range(1, width + 1)]


def csv_text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return fee_text(value)
    return neutral(value) if isinstance(value, str) else str(value)


def fee_text(fee: float) -> str:
    """A fee as text that reads back to the same float (no exponent for ordinary sums)."""
    if fee.is_integer() and abs(fee) < 1e15:
        return str(int(fee))
    return repr(fee)


def _csv(out: BinaryIO | str | Path, width: int, rows: Iterator[Row]) -> None:
    fh: Any = open(out, "wb") if isinstance(out, str | Path) else out  # noqa: SIM115 - closed below when we opened it
    try:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="", write_through=True)
        writer = csv.writer(text, lineterminator="\r\n")
        text.write(BOM)
        writer.writerow(labels(width))
        for values, materials in rows:
            writer.writerow([csv_text(v) for v in values] + [neutral(m) for m in materials])
        text.flush()
        text.detach()
    finally:
        if fh is not out:
            fh.close()


def _xlsx(
    out: BinaryIO | str | Path,
    width: int,
    rows: Iterator[Row],
    catalog: Catalog,
    region: str,
    items: list[str],
    version: int | None,
) -> None:
    import xlsxwriter  # not at the top: 0.4 s to import (`-X importtime`), only for an .xlsx

    target = str(out) if isinstance(out, Path) else out
    book = xlsxwriter.Workbook(target, {"constant_memory": True, "strings_to_numbers": False})
    try:
        header = book.add_format(
            {"bold": True, "bg_color": "#E8EEF7", "border": 1, "text_wrap": True, "valign": "top"}
        )
        text = book.add_format({"num_format": "@", "valign": "top"})
        wrapped = book.add_format({"num_format": "@", "valign": "top", "text_wrap": True})
        number = book.add_format({"valign": "top"})
        sheet = book.add_worksheet(DATA_SHEET)
        names = labels(width)
        for index, column in enumerate(COLUMNS):
            numeric = column.kind in ("int", "fee")
            style = number if numeric else wrapped if column.kind == "basis" else text
            sheet.set_column(index, index, column.width, style)
        sheet.set_column(len(COLUMNS), len(names) - 1, MATERIAL_WIDTH, wrapped)
        _header_row(sheet, names, [c.note for c in COLUMNS], MATERIAL_NOTE, header, frozen=3)
        _validations(sheet)
        last = 0
        written: dict[str, None] = {}
        for last, (values, materials) in enumerate(rows, 1):
            for index, value in enumerate(values):
                if value is None:
                    continue
                if isinstance(value, str):
                    sheet.write_string(last, index, neutral(value))
                elif isinstance(value, float) and float(f"{value:.16G}") != value:
                    sheet.write_string(last, index, repr(value))  # Excel would round it
                else:
                    sheet.write_number(last, index, value)
            for offset, cell in enumerate(materials):
                sheet.write_string(last, len(COLUMNS) + offset, neutral(cell))
                if len(written) < MAX_CHOICES:
                    written[cell] = None
        sheet.autofilter(0, 0, max(last, 1), len(names) - 1)
        sheet.activate()
        choices = _choices(catalog, items, written)
        if choices:
            sheet.data_validation(
                1,
                len(COLUMNS),
                MAX_ROW,
                len(names) - 1,
                {
                    "validate": "list",
                    "source": f"='{CHOICES_SHEET}'!$A$2:$A${len(choices) + 1}",
                    "show_error": False,  # a drop-down to help: any requirement in the notation goes
                },
            )
        _points_sheet(book, points_of(catalog, region), header, text, number, wrapped)
        _notes(book, catalog, region, items, version)
        _choices_sheet(book, choices)
    finally:
        book.close()


def _header_row(
    sheet: Any, names: list[str], notes: list[str], rest: str, header: Any, *, frozen: int
) -> None:
    """Row 1 of a worksheet: the labels in `header` format, each column's note (`rest` for the
    repeated columns past `notes`) as a comment, the row and the first `frozen` columns frozen."""
    for index, name in enumerate(names):
        sheet.write_string(0, index, name, header)
        note = notes[index] if index < len(notes) else rest
        if note:
            sheet.write_comment(0, index, note, {"x_scale": 2, "y_scale": 1.2})
    sheet.set_row(0, 30)
    sheet.freeze_panes(1, frozen)


def _points_sheet(
    book: Any, points: list[ServicePoint], header: Any, text: Any, number: Any, wrapped: Any
) -> None:
    """The 服务场所 worksheet: a row per service point of the subtree, its windows in 窗口1…
    (always written, with at least one 窗口 column, so a clerk can add a point)."""
    sheet = book.add_worksheet(POINTS_SHEET)
    width = max([len(p.windows) for p in points] + [1])
    names = [c.label for c in POINT_COLUMNS] + [window_label(n) for n in range(1, width + 1)]
    for index, column in enumerate(POINT_COLUMNS):
        style = number if column.kind == "degrees" else wrapped if column.kind == "codes" else text
        sheet.set_column(index, index, column.width, style)
    sheet.set_column(len(POINT_COLUMNS), len(names) - 1, WINDOW_WIDTH, wrapped)
    _header_row(sheet, names, [c.note for c in POINT_COLUMNS], WINDOW_NOTE, header, frozen=2)
    for index, column in enumerate(POINT_COLUMNS):
        if column.kind == "degrees":
            sheet.data_validation(
                1,
                index,
                MAX_ROW,
                index,
                {
                    "validate": "decimal",
                    "criteria": "between",
                    "minimum": column.lowest,
                    "maximum": column.highest,
                    "error_title": column.label,
                    "error_message": f"{column.label}应为 {column.lowest} 到 {column.highest} 之间的度数",
                },
            )
    for row, point in enumerate(points, 1):
        values, windows = point_row(point)
        for index, value in enumerate(values):
            if isinstance(value, str):
                sheet.write_string(row, index, neutral(value))
            elif isinstance(value, float) and float(f"{value:.16G}") != value:
                sheet.write_string(row, index, repr(value))  # Excel would round it
            elif value is not None:
                sheet.write_number(row, index, value)
        for offset, cell in enumerate(windows):
            sheet.write_string(row, len(POINT_COLUMNS) + offset, neutral(cell))


def _validations(sheet: Any) -> None:
    """Drop-down lists and number ranges where Excel can check as the clerk types."""
    for index, column in enumerate(COLUMNS):
        rule: dict[str, Any] | None = None
        if column.kind == "int":
            rule = {
                "validate": "integer",
                "criteria": "between",
                "minimum": column.lowest,
                "maximum": column.highest,
                "error_message": f"{column.label}应为 {column.lowest} 到 {column.highest} 之间的整数",
            }
        elif column.kind == "fee":
            rule = {
                "validate": "decimal",
                "criteria": ">=",
                "value": 0,
                "error_message": "收费应为不小于 0 的数，以元为单位",
            }
        elif column.kind == "type":
            rule = {"validate": "list", "source": list(ITEM_TYPES.values())}
        elif column.kind == "as_item":
            rule = {"validate": "list", "source": [YES, NO]}
        if rule is not None:
            rule.setdefault("error_title", column.label)
            sheet.data_validation(1, index, MAX_ROW, index, rule)


CHOICES_SHEET = "选项"
"""The hidden worksheet the 材料n columns' drop-down lists come from."""
MAX_CHOICES = 10_000


def _choices(catalog: Catalog, items: list[str], written: dict[str, None]) -> list[str]:
    """What the 材料n drop-down offers: each requirement of the sheet's items as a cell writes it
    (its materials by name, its situations by question and answer), the cells the rows hold,
    then every material of the dictionary by name."""
    words = notation.Words(catalog.materials, catalog.questions)
    out: dict[str, None] = {}
    for code in items:
        item = catalog.items.get(code)
        taken: set[str] = set()
        for requirement in item.materials if item is not None else ():
            out[notation.write(requirement, words, item, taken)] = None
    out.update(written)
    for material in sorted(catalog.materials.values(), key=lambda m: m.id):
        out[words.word(material.id)] = None
    return [c for c in out if c and len(c) <= 255][:MAX_CHOICES]


def _choices_sheet(book: Any, choices: list[str]) -> None:
    if not choices:
        return
    sheet = book.add_worksheet(CHOICES_SHEET)
    sheet.write_string(0, 0, "材料列下拉选项（材料名称、材料要求的写法）")
    for row, choice in enumerate(choices, 1):
        sheet.write_string(row, 0, neutral(choice))
    sheet.hide()


INSTRUCTIONS = (
    "“实施清单”工作表就是本区划（含下级区划）的全部实施清单。上传后整体替换该区划的实施清单：删除一行即删除该条实施清单，增加一行即新增一条。",
    "只预填了区划、事项编码、名称、类型、依据、法定时限的行，是本区划尚未实施、可以实施的事项（模板行）；不填写就不会导入。要实施该事项，请填写实施主体、统一社会信用代码、承诺办结时限、到现场次数、网办深度等。",
    "实施编码可以留空：系统按 统一社会信用代码 + 区划层级码（1 国家、2 省、3 市、4 县、5 乡镇街道、6 村社区）+ 事项编码 生成。",
    "请勿合并单元格，勿修改第一行的列名和工作表名称。编码、电话等列是文本格式，请勿改为数字（会丢失开头的 0）。",
    "设定依据：每条依据占一行（在单元格内按 Alt+Enter 换行）。",
    "材料按事项：填“是”表示申请材料与基本目录相同，材料列留空；填“否”表示按材料列填写，只能减少、不能增加（只减不增）。",
    "材料列每格一条材料要求，写作 材料名称／另一可选材料（任交其一），可加标注：【非必需】（如有则提交）、【容缺】（可先受理、后补交）、【情形：问题=答案】（仅在该情形下需要；问题和答案照下方“情形问题”表的文字填写，多个答案用“、”，多个问题用“；”分隔）。",
    "例：居民身份证／护照　　不动产权证书／房屋租赁合同【容缺】　　出租方产权证明【情形：经营场所(住所)是自有房产还是租赁？=租赁】。材料列的单元格有下拉列表，列出本表事项的材料要求和全部材料名称，可直接选用。",
    "办理渠道：填线下窗口、网上办理、掌上办理、自助终端、邮寄办理中的一个或几个，用“、”分隔；留空即线下窗口（网办深度 3 以上另加网上办理）；都不提供填“无”。",
    "“服务场所”工作表列出本区划（含下级区划）的政务服务中心、便民服务中心和便民服务站，一行一个场所；经度、纬度同填或同空；代办事项填事项编码，用“、”分隔。",
    "窗口1、窗口2……每格一个窗口，写作 窗口名称【一件事：一件事编号、…】【事项：事项编码、…】，例：一件事综合窗口【一件事：newborn】；不动产登记窗口【事项：000100035000】。",
    "材料名称可用材料目录中的名称或别名；基本目录中有两条要求列出同样的材料时，在前面写上要求编号加“：”区分（如“identity：居民身份证”，编号见下方“事项的材料要求”表）。",
)


def _notes(book: Any, catalog: Catalog, region: str, items: list[str], version: int | None) -> None:
    """The 说明 worksheet: what the sheet is (format and region, read back on upload), how to fill
    it in, and the dictionaries its cells name."""
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    text = book.add_format({"num_format": "@", "text_wrap": True, "valign": "top"})
    sheet = book.add_worksheet(NOTES_SHEET)
    sheet.set_column(0, 0, 22, text)
    sheet.set_column(1, 1, 40, text)
    sheet.set_column(2, 3, 50, text)
    place = catalog.regions[region]
    row = 0

    def line(*cells: str, style: Any = None) -> None:
        nonlocal row
        for index, cell in enumerate(cells):
            sheet.write_string(row, index, neutral(cell), style)
        row += 1

    line(f"{place.name}实施清单", style=title)
    line("格式", FORMAT_NAME)
    line("区划", region)
    line("区划名称", place.name)
    line("目录版本", f"{version if version is not None else ''}（{catalog.header.version}）")
    row += 1
    line("填写说明", style=bold)
    for number, sentence in enumerate(INSTRUCTIONS, 1):
        line(str(number), sentence)
    row += 1
    line("列名", "说明", style=bold)
    for column in COLUMNS:
        line(column.label, column.note or "—")
    line("材料1、材料2……", MATERIAL_NOTE)
    for column in POINT_COLUMNS:
        line(f"{POINTS_SHEET}：{column.label}", column.note or "—")
    line(f"{POINTS_SHEET}：窗口1、窗口2……", WINDOW_NOTE)
    row += 1
    line("事项的材料要求", "要求编号", "可选材料（任交其一）", "标注", style=bold)
    words = notation.Words(catalog.materials, catalog.questions)
    for code in items:
        item = catalog.items.get(code)
        if item is None:
            continue
        for requirement in item.materials:
            alternatives = notation.ALT.join(words.word(m) for m in requirement.any_of)
            line(f"{code} {item.name}", requirement.req, alternatives, notation.marks(requirement, words))
    row += 1
    line("材料目录：名称", "编号", "别名", style=bold)
    for material in sorted(catalog.materials.values(), key=lambda m: m.id):
        line(material.name, material.id, "、".join(material.aliases))
    row += 1
    line("情形问题编号", "问题", "答案（编号：含义）", style=bold)
    for question in sorted(catalog.questions.values(), key=lambda q: q.id):
        line(question.id, question.text, "；".join(f"{a}：{t}" for a, t in question.answers.items()))
    row += 1
    line("区划代码", "名称", "层级", style=bold)
    for code in sorted(subtree(catalog.regions, region)):
        found = catalog.regions[code]
        line(code, found.name, level_name(found.level))
