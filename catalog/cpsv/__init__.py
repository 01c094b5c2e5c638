"""A catalog version as CPSV-AP 3.2.0 (spec §5 `export --format cpsv-ap|turtle`), streamed.

`export(lines, fmt)`: the JSONL lines of a version (as `Store.export` streams them, small
records first) → the bytes of the JSON-LD document (the official context embedded) or of the
Turtle document, one node at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from ..load import read_lines
from ..model import Record
from .graph import Node, nodes
from .write import CONTEXT_URL, FORMATS, MEDIA_TYPES, context, jsonld, turtle

__all__ = ["CONTEXT_URL", "FORMATS", "MEDIA_TYPES", "Node", "context", "export", "jsonld", "nodes", "turtle"]


def records(lines: Iterable[bytes]) -> Iterator[Record]:
    """The records of JSONL lines (chunks of several lines are split); a line that does not
    decode is a TypeError — a published version always decodes."""
    for chunk in lines:
        for number, found in read_lines(chunk.splitlines()):
            if not isinstance(found, Record):  # type: ignore[arg-type,misc]
                raise TypeError(f"not a catalog record: line {number}")
            yield found


def export(
    lines: Iterable[bytes], fmt: str, progress: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """`fmt` is `cpsv-ap` (JSON-LD) or `turtle`; `progress(n)` is told every 1,000 records."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    return FORMATS[fmt](nodes(_counted(records(lines), progress)))


def _counted(items: Iterator[Record], progress: Callable[[int], None] | None) -> Iterator[Record]:
    if progress is None:
        yield from items
        return
    n = 0
    for n, record in enumerate(items, 1):
        if n % 1000 == 0:
            progress(n)
        yield record
    progress(n)
