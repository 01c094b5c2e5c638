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
        try:
            yield out, sheet
        except Refused as exc:
            raise Refused(list(sheet.origin.locate_all(exc.findings))) from None


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
