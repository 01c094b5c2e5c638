"""Publishing a whole catalog file as the next version (spec §6), writing only what changed.

- `publish_file` (here) — the one door every publish goes through (a file, a region's sheet,
  a republish, an approved submission, a dry run); what the publish does at its end inside
  its transaction is passed to it (`finish`).
- `first` — into an empty store; `incremental` — over a published version;
- `rule` — §6's publish rule (touched records refuse, untouched ones are flagged for review);
- `writes` — what every publish writes the same way (its transaction, bulk loads, the rows).

Into an empty store every line is new (`first`); over a published version only what
changed is read twice, validated and written (`incremental`). Either way a publish is one
transaction — a crash at any moment leaves the old version or the new one — and memory is
bounded by the small records (items, regions, materials, fields, questions): the millions of
implementations only pass through. An error on a record the submission touches refuses it
(`Refused`, nothing written); errors on untouched records flag them for review (`rule`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from ... import scratch
from ...findings import finding
from .first import NotFirst, publish_first
from .incremental import publish_changes
from .writes import Finish, KeptBundle, Published, Refused, SheetRefused, StoreBusy, empty

__all__ = [
    "Finish",
    "KeptBundle",
    "Published",
    "Refused",
    "SheetRefused",
    "StoreBusy",
    "publish_file",
    "spooled",
]


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
    finish: Finish | None = None,
) -> Published:
    """A whole catalog file, or (`region`) a region's partial one, as the next version; a bundle
    designers edited or deleted through the API since a file last wrote it stays as they left it
    (`Published.kept`) unless `take_bundles`. `finish` runs inside the publish's transaction
    once everything is written (False: roll it back). Raises
    Refused (nothing written), StoreBusy (another publish held the catalog past `lock_timeout`),
    OSError (the file cannot be read)."""
    open(path, "rb").close()  # unreadable: say so before any work
    common: dict[str, Any] = {
        "by": by,
        "note": note,
        "progress": progress,
        "lock_timeout": lock_timeout,
        "take_bundles": take_bundles,
        "finish": finish,
    }
    if empty(engine):
        if region is not None:
            raise Refused([finding("SCOPE", "catalog", None, None, "目录尚未发布，区划的实施清单无从提交。")])
        try:
            return publish_first(engine, path, **common)
        except NotFirst:
            pass
    return publish_changes(engine, path, region=region, source=source, **common)


@contextmanager
def spooled(chunks: Iterable[bytes], prefix: str = "publish-") -> Iterator[Path]:
    """Lines on their way to a publish as a file in the scratch folder (a catalog built in
    memory, a version republished, a held submission), removed afterwards."""
    with tempfile.NamedTemporaryFile(prefix=prefix, suffix=".jsonl", dir=scratch.folder()) as fh:
        fh.writelines(chunks)
        fh.flush()
        yield Path(fh.name)
