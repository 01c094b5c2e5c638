"""Publishing: a whole catalog file, a region's partial file or sheet as the next version, and
a region's sheet written out; a refused publish is InvalidCatalog with the findings, nothing changed."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from catalog.findings import Report

from .. import schemas as s
from ..schemas import ErrorDetail, finding_out
from ..view import View
from . import errors
from .base import StoreService
from .errors import refused as _refused


class PublishingService(StoreService):
    async def publish_file(
        self, path: Path, *, by: str, note: str = "", region: str | None = None, take_bundles: bool = False
    ) -> s.PublishResult:
        """A whole catalog file, or a region's partial one, as the next version: InvalidCatalog with the
        touched records' error findings (nothing changed) or the new version with its warnings."""
        return await self.published(
            lambda: self.store.publish_file(path, by=by, note=note, region=region, take_bundles=take_bundles)
        )

    async def publish_sheet(
        self, path: Path, fmt: str, *, by: str, note: str = "", region: str | None = None
    ) -> s.PublishResult:
        """A region's sheet (`catalog.sheet`) as its partial submission: InvalidCatalog with the findings at
        worksheet, row and column (nothing changed), or the new version."""
        def publish() -> Any:
            published, sheet = self.store.publish_sheet(path, fmt, by=by, note=note, region=region)  # type: ignore[arg-type]
            report = msgspec.structs.replace(
                published.report, findings=sheet.origin.locate_all(published.report.findings)
            )
            return msgspec.structs.replace(published, report=report)

        return await self.published(publish)

    async def sheet_file(self, view: View, region: str, fmt: str) -> Any:
        """`region`'s sheet of the view's version in a temporary file, opened for reading and
        already unlinked (it goes when the handle is closed); written off the event loop."""
        import tempfile

        from catalog import scratch
        from catalog.sheet import TooManyRows

        def written() -> Any:
            fh = tempfile.TemporaryFile(prefix="sheet-", dir=scratch.folder())  # noqa: SIM115 - the response closes it
            try:
                self.store.export_sheet(fh, fmt, region, view.version, catalog=view.catalog)  # type: ignore[arg-type]
            except BaseException:
                fh.close()
                raise
            fh.seek(0)
            return fh

        try:
            return await self._run(written)
        except TooManyRows as exc:
            raise errors.TooManyRows(
                f"区划 {region} 的清单有 {exc.rows:,} 行，超过 Excel 工作表的行数：请改用 CSV 格式下载。",
                detail=f"region {region}'s list has {exc.rows:,} rows, more than an Excel worksheet holds: ask for format=csv",
                errors=[ErrorDetail(message=str(exc), field="format", source="query")],
            ) from None

    async def published(self, publish: Callable[[], Any]) -> s.PublishResult:
        """Run a store publish (off the event loop) and answer as `PUT /catalog` does."""
        from catalog.store import Refused, SheetRefused

        try:
            with responsive():
                published = await self._run(publish)
        except SheetRefused as exc:
            raise _refused(
                exc.findings,
                "the sheet cannot be read as implementations ({n} finding(s)); nothing was published",
                code="INVALID_SHEET",
            ) from None
        except Refused as exc:
            raise _refused(exc.findings, "{n} error finding(s); nothing was published") from None
        summary = await self.views.summary(await self.views.snapshot())
        assert summary is not None
        report = published.report
        return s.PublishResult(
            revision=published.version,
            added=published.added,
            changed=published.changed,
            removed=published.removed,
            catalog=summary,
            summary=s.SummaryOut(errors=0, warnings=report.summary.warnings),
            findings=[finding_out(f) for f in report.findings if f.severity != "error"][:1000],
            needs_review=published.needs_review,
            kept_bundles=[s.KeptBundleOut(k.id, k.name, k.message) for k in published.kept],
        )

    @staticmethod
    def validate_upload(path: Path) -> Report:
        from catalog.validate import validate_file

        return validate_file(path)


_publishing = 0
_interval = 0.005


@contextmanager
def responsive(interval: float = 0.0005) -> Iterator[None]:
    """While a publish runs in this process, its thread hands the GIL over every `interval`
    seconds instead of every 5 ms: a read needs it a few dozen times between the network and
    its answer, and waited up to the whole interval each time a publish's Python held it."""
    global _publishing, _interval
    if _publishing == 0:
        _interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, _interval))
    _publishing += 1
    try:
        yield
    finally:
        _publishing -= 1
        if _publishing == 0:
            sys.setswitchinterval(_interval)
