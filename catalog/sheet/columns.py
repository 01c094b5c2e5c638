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

Kind = Literal["text", "int", "fee", "type", "basis", "as_item", "channels", "degrees", "codes"]


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
    optional: bool = False
    """May be absent from the header: a sheet written before the column existed (its field
    takes the model's default)."""


COLUMNS: tuple[Column, ...] = (
    Column(
        "区划代码",
        "region",
        "text",
        "实施区划的代码（GB/T 2260 的 6 位；乡镇街道 9 位、村社区 12 位）",
        10,
        True,
        max_length=64,
    ),
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
        "31 位：统一社会信用代码 + 区划层级码（1 国家、2 省、3 市、4 县、5 乡镇街道、6 村社区）+ 事项编码；新增时可留空，由系统生成",
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
        "办理渠道",
        "channels",
        "channels",
        "可填：线下窗口、网上办理、掌上办理、自助终端、邮寄办理，多个用“、”分隔；"
        "留空：线下窗口，网办深度 3 以上另加网上办理；都不提供填“无”",
        24,
        optional=True,
    ),
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


CHANNEL_WORDS: dict[str, str] = {
    "window": "线下窗口",
    "online": "网上办理",
    "app": "掌上办理",
    "kiosk": "自助终端",
    "post": "邮寄办理",
}
"""The spec's channels (§1) as a clerk reads them (the words the CPSV-AP export uses)."""
NO_CHANNEL = "无"
"""An implementation that names no channel at all (an empty cell is the default channels)."""
LIST_SEPARATOR = "、"
"""Between the values of a cell that holds several (channels, item codes)."""

POINTS_SHEET = "服务场所"
"""The worksheet of the region's service points (revision 3): a row per point, 窗口1… its windows."""
POINT_COLUMNS: tuple[Column, ...] = (
    Column("场所编号", "id", "text", "服务场所的编号，在目录中唯一，如 640104-hall", 22, max_length=64),
    Column("场所名称", "name", "text", "如“兴庆区政务服务中心”“某某村便民服务站”", 28),
    Column(
        "所在区划",
        "region",
        "text",
        "场所所在区划的代码（县 6 位、乡镇街道 9 位、村社区 12 位）",
        14,
        max_length=64,
    ),
    Column("地址", "address", "text", "", 36),
    Column("办公时间", "hours", "text", "", 24),
    Column("咨询电话", "phone", "text", "", 16, max_length=64),
    Column(
        "经度", "location.lon", "degrees", "WGS-84 经度（度），与纬度同填或同空", 11, lowest=-180, highest=180
    ),
    Column("纬度", "location.lat", "degrees", "WGS-84 纬度（度）", 11, lowest=-90, highest=90),
    Column(
        "代办事项",
        "assists",
        "codes",
        "本场所代办、帮办的事项编码，多个用“、”分隔",
        36,
        max_length=32_767,
    ),
)
POINT_BY_LABEL = {c.label: c for c in POINT_COLUMNS}
WINDOW_LABEL = "窗口"
"""Window columns are 窗口1, 窗口2, …"""
WINDOW_NOTE = "一个窗口一格：窗口名称【一件事：一件事编号、…】【事项：事项编码、…】，收件范围没有的标注可省略"
WINDOW_WIDTH = 40


def window_label(n: int) -> str:
    return f"{WINDOW_LABEL}{n}"


def window_number(label: str) -> int | None:
    """The n of a 窗口n label, None for any other label."""
    return _numbered(label, WINDOW_LABEL)


def material_label(n: int) -> str:
    return f"{MATERIAL_LABEL}{n}"


def material_number(label: str) -> int | None:
    """The n of a 材料n label, None for any other label."""
    return _numbered(label, MATERIAL_LABEL)


def _numbered(label: str, prefix: str) -> int | None:
    rest = label.removeprefix(prefix)
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
