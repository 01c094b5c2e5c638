"""The one table of a region's implementation sheet (实施清单): each column's header label, the
implementation field it holds, how its cells are written and read, and what a clerk is told
about it. Writing (`write`), reading (`read`) and locating a finding (`locate`) all go by it.

The requirement columns come last (材料1 … 材料N, as many as the sheet's rows need), so the
fixed columns keep their letters whatever N is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FORMAT_NAME = "onething-sheet/1"
"""What the 说明 worksheet records as the sheet's format (with the region it is for)."""
DATA_SHEET = "实施清单"
NOTES_SHEET = "说明"

Kind = Literal["text", "int", "fee", "type", "basis", "as_item"]


@dataclass(frozen=True)
class Column:
    label: str
    """The header label, exactly (the sheet is recognised by its labels)."""
    field: str
    """The implementation field (`agency.name`, `agency.uscc` for the agency's two; `as_item`
    for whether the requirements are the item's)."""
    kind: Kind
    note: str
    """What a clerk is told about it (header comment and 说明)."""
    width: float = 14
    prefilled: bool = False
    """Filled in on a template row (an item the region has no implementation of yet)."""
    lowest: int = 0
    highest: int = 3650
    max_length: int = 200


COLUMNS: tuple[Column, ...] = (
    Column("区划代码", "region", "text", "实施区划的 6 位代码（GB/T 2260）", 10, True, max_length=64),
    Column("事项编码", "item", "text", "基本目录事项的 12 位编码", 15, True, max_length=64),
    Column("事项名称", "name", "text", "须与基本目录一致（四同）", 28, True),
    Column("事项类型", "type", "type", "如“行政许可”，须与基本目录一致（四同）", 12, True),
    Column(
        "设定依据",
        "basis",
        "basis",
        "每条依据占一行（单元格内换行），须与基本目录一致（四同）",
        36,
        True,
        max_length=2000,
    ),
    Column("法定办结时限", "statutory_days", "int", "工作日，须与基本目录一致", 10, True),
    Column(
        "实施编码",
        "code",
        "text",
        "31 位：统一社会信用代码 + 区划层级码（1 国家、2 省、3 市、4 县）+ 事项编码；新增时可留空，由系统生成",
        34,
        max_length=64,
    ),
    Column("实施主体", "agency.name", "text", "实施机构全称", 24),
    Column("统一社会信用代码", "agency.uscc", "text", "实施机构的 18 位统一社会信用代码", 21, max_length=64),
    Column("承诺办结时限", "promised_days", "int", "工作日，不得超过法定办结时限", 10),
    Column("到现场次数", "visits", "int", "办事人到现场的次数，0–5", 9, highest=5),
    Column(
        "网办深度", "online_depth", "int", "1（仅公开办事信息）至 4（全程网上办理）", 9, lowest=1, highest=4
    ),
    Column("收费（元）", "fee", "fee", "不收费填 0", 10),
    Column("受理窗口", "window", "text", "", 24),
    Column("办理地点", "address", "text", "", 30),
    Column("办公时间", "hours", "text", "", 20),
    Column("咨询电话", "phone", "text", "", 14, max_length=64),
    Column(
        "材料按事项",
        "as_item",
        "as_item",
        "“是”：申请材料与基本目录相同，材料列留空；“否”：按材料列填写（只减不增）",
        10,
        True,
    ),
)

BY_LABEL = {c.label: c for c in COLUMNS}
BY_FIELD = {c.field: c for c in COLUMNS}
MATERIAL_LABEL = "材料"
"""Requirement columns are 材料1, 材料2, …"""
MATERIAL_NOTE = "一条申请材料要求一格，写法见“说明”工作表"
MATERIAL_WIDTH = 30
YES, NO = "是", "否"


def material_label(n: int) -> str:
    return f"{MATERIAL_LABEL}{n}"


def material_number(label: str) -> int | None:
    """The n of a 材料n label, None for any other label."""
    rest = label.removeprefix(MATERIAL_LABEL)
    if rest == label or not rest.isascii() or not rest.isdigit() or rest.startswith("0"):
        return None
    return int(rest)


def letter(index: int) -> str:
    """The column letter of a 0-based column index (0 → A, 26 → AA)."""
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = chr(65 + rest) + out
    return out
