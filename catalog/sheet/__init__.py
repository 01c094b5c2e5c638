"""A region's implementation list as a spreadsheet (实施清单), out and back in — no database.

- `write(out, "xlsx" | "csv", region, catalog, implementations)` — the sheet of one region: a
  row per implementation of its subtree and, as the template, a row per item the region could
  implement and does not yet; `.xlsx` with a 服务场所 worksheet (the subtree's service points, a
  row each, their windows in 窗口n cells) and a 说明 worksheet (how to fill it in, the format
  and region it is for, the dictionaries), or `.csv` in UTF-8 with a BOM (implementations only).
  Channels are the 办理渠道 column, in words (线下窗口、掌上办理…); a sheet written before it or
  the 服务场所 worksheet existed reads as it always did.
- `read(path, "xlsx" | "csv", catalog, region=…, out=…)` — a filled sheet back as the region's
  partial submission (spec §6) at `out`, which the store publishes, checks or holds unchanged,
  and its service points as `Sheet.service_points` (a partial carries none: `catalog.store.sheets`
  refuses a sheet whose points differ from the version's);
  or `SheetFinding`s at worksheet, row and column when it is not one of ours, has merged
  cells or a cell of the wrong type (then nothing is written). `Sheet.origin.locate(finding)`
  places the store's findings on the same rows and columns.

The column tables are `columns.COLUMNS` and `columns.POINT_COLUMNS`; the requirement and window
notation `notation`. A sheet written and
read back gives the very implementations it was written from.
"""

from .columns import COLUMNS, DATA_SHEET, FORMAT_NAME, NOTES_SHEET, Column
from .locate import Origin, SheetFinding
from .read import Sheet, format_of, marked_region, read
from .write import Format, TooManyRows, implementable, write

MEDIA_TYPES: dict[str, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
}

__all__ = [
    "COLUMNS",
    "DATA_SHEET",
    "FORMAT_NAME",
    "MEDIA_TYPES",
    "NOTES_SHEET",
    "Column",
    "Format",
    "Origin",
    "Sheet",
    "SheetFinding",
    "TooManyRows",
    "format_of",
    "implementable",
    "marked_region",
    "read",
    "write",
]
