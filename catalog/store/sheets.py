"""A region's sheet (`catalog.sheet`) in and out of the store: exported from a version, and read
back as the region's partial submission — published, or held for approval — through the very
paths a JSONL submission takes. Findings, the sheet's own or the store's, come back as
`SheetFinding`s at worksheet, row and column (`Refused.findings`)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import msgspec

from .. import scratch
from ..model import Catalog
from ..sheet import Format, Sheet, read, write
from ..sheet.columns import POINTS_SHEET
from ..sheet.locate import sheet_finding
from ..tree import subtree
from .publish import Published, Refused, SheetRefused
from .submissions import Check, Submission

if TYPE_CHECKING:
    from . import Store


def export_sheet(
    store: Store,
    out: BinaryIO | str | Path,
    fmt: Format,
    region: str,
    version: int,
    progress: Callable[[int], None] | None = None,
    catalog: Catalog | None = None,
) -> int:
    """Write `region`'s sheet of `version` (`catalog`: its small records, when the caller holds
    them); the rows written. KeyError: no such region in it. TooManyRows: an .xlsx would not
    hold them."""
    catalog = store.dictionaries(version) if catalog is None else catalog
    if region not in catalog.regions:
        raise KeyError(region)
    regions = sorted(subtree(catalog.regions, region))
    rows = store.region_implementations(version, regions)
    return write(out, fmt, region, catalog, rows, version=version, progress=progress)


@contextmanager
def sheet_submission(
    store: Store, path: str | Path, fmt: Format, region: str | None
) -> Iterator[tuple[Path, Sheet]]:
    """The sheet as a region's partial submission file, read against the newest version: (its
    path, the read sheet — `sheet.region` is the region it is for). A Refused raised inside is
    given back with its findings placed on the sheet. OSError: the file cannot be opened."""
    version = store.revision()
    if version == 0:
        raise SheetRefused([sheet_finding("SCOPE", "目录尚未发布，区划的实施清单无从提交", sheet=None)])
    catalog = store.dictionaries(version)
    with tempfile.TemporaryDirectory(prefix="sheet-", dir=scratch.folder()) as tmp:
        out = Path(tmp) / "submission.jsonl"
        sheet = read(path, fmt, catalog, region=region, out=out)
        if not sheet.ok:
            raise SheetRefused(list(sheet.findings))
        _points_unchanged(sheet, catalog)
        try:
            yield out, sheet
        except Refused as exc:
            raise Refused(list(sheet.origin.locate_all(exc.findings))) from None


def _points_unchanged(sheet: Sheet, catalog: Catalog) -> None:
    """A partial submission carries implementations only (spec §6), so the 服务场所 worksheet
    cannot change the version's service points: a sheet whose points differ is refused (at the
    first row that differs) rather than published without them."""
    if sheet.service_points is None or sheet.region is None:
        return
    within = subtree(catalog.regions, sheet.region)
    held = {p.id: p for p in catalog.service_points.values() if p.region in within}
    given = {p.id for p in sheet.service_points.values()}
    changed = [(row, p.name) for row, p in sheet.service_points.items() if held.get(p.id) != p]
    removed = [p.name for key, p in sorted(held.items()) if key not in given]
    if not changed and not removed:
        return
    what = "、".join(
        [
            *(f"“{name}”（第 {row} 行）" for row, name in changed[:5]),
            *(f"“{n}”（已删除）" for n in removed[:5]),
        ]
    )
    raise SheetRefused(
        [
            sheet_finding(
                "SCOPE",
                f"“{POINTS_SHEET}”工作表与目录不一致：{what}。上传实施清单只更新实施清单，服务场所的增删改"
                "请随目录整体发布；请恢复该工作表（或重新导出）后再上传",
                sheet=POINTS_SHEET,
                row=changed[0][0] if changed else None,
            )
        ]
    )


def publish_sheet(
    store: Store,
    path: str | Path,
    fmt: Format,
    *,
    by: str = "",
    note: str = "",
    region: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[Published, Sheet]:
    """Publish a region's sheet as the next version (spec §6), or Refused with placed findings."""
    with sheet_submission(store, path, fmt, region) as (partial, sheet):
        published = store.publish_file(partial, by=by, note=note, region=sheet.region, progress=progress)
    return published, sheet


def submit_sheet(
    store: Store,
    path: str | Path,
    fmt: Format,
    *,
    by: str,
    note: str = "",
    region: str | None = None,
    max_bytes: int,
) -> tuple[Submission, Check, Sheet]:
    """Hold a region's sheet for approval, as its partial submission (the held file is that
    JSONL: its line n is the sheet's row n). The check's findings come back placed on the sheet;
    Refused only when the sheet itself is not clean (then nothing is held)."""
    with sheet_submission(store, path, fmt, region) as (partial, sheet):
        held, check = store.submit(partial, by=by, note=note, region=sheet.region, max_bytes=max_bytes)
    placed = msgspec.structs.replace(check, findings=list(sheet.origin.locate_all(check.findings)))
    return held, placed, sheet
