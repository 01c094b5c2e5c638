"""Publishing a whole catalog file as the next version (spec §6), writing only what changed.

Into an empty store every line is new (`first`); over a published version only what
changed is read twice, validated and written (`changes`). Either way a publish is one
transaction — a crash at any moment leaves the old version or the new one — and memory is
bounded by the small records (items, regions, materials, fields, questions): the millions of
implementations only pass through. An error on a record the submission touches refuses it
(`Refused`, nothing written); errors on untouched records flag them for review (`review`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from ..findings import finding
from .changes import publish_changes
from .first import NotFirst, publish_first
from .writes import Published, Refused, empty


def publish_file(
    engine: Engine,
    path: str | Path,
    *,
    by: str,
    note: str = "",
    progress: Callable[[int], None] | None = None,
    lock_timeout: float = 60,
    region: str | None = None,
    source: int | None = None,
    take_bundles: bool = False,
) -> Published:
    """A whole catalog file, or (`region`) a region's partial one, as the next version; a bundle
    designers edited or deleted through the API since a file last wrote it stays as they left it
    (`Published.kept`) unless `take_bundles`. Raises
    Refused (nothing written), StoreBusy (another publish held the catalog past `lock_timeout`),
    OSError (the file cannot be read)."""
    open(path, "rb").close()  # unreadable: say so before any work
    if empty(engine):
        if region is not None:
            raise Refused(
                [
                    finding(
                        "SCOPE",
                        "catalog",
                        None,
                        None,
                        "目录尚未发布，区划的实施清单无从提交。",
                    )
                ]
            )
        try:
            return publish_first(
                engine,
                path,
                by=by,
                note=note,
                progress=progress,
                lock_timeout=lock_timeout,
                take_bundles=take_bundles,
            )
        except NotFirst:
            pass
    return publish_changes(
        engine,
        path,
        by=by,
        note=note,
        progress=progress,
        lock_timeout=lock_timeout,
        region=region,
        source=source,
        take_bundles=take_bundles,
    )
