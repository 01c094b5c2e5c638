"""The digesting pass of a republish: each implementation line keyed by its code (read off the
line's prefix) and the digest of its bytes, without being decoded — what the store compares
with the version it holds. Pure (no database), and light to import: it runs in a process of its
own (`apart`) for a large file."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from .load import BOM, gc_paused

PREFIX = b'{"kind":"implementation","code":"'
"""How this format's writers (and most people's) start an implementation line."""
PLACES = ((b'{"kind":"region","code":"', "region"), (b'{"kind":"service_point","id":"', "service_point"))
"""How they start a region's and a service point's line: half a million of each at five
levels, digested like implementations (`catalog.store.publish.places`)."""
ROWS = 10_000
"""Stage rows per frame."""

_blake2b = hashlib.blake2b


def digested(
    path: str | Path, pg: bool, fast: bool, part: int = 0, parts: int = 1
) -> Iterator[tuple[Any, ...]]:
    """The file in order — or its `part` of `parts`, cut at line ends — as frames: ("rows",
    first line, last line, count, stage rows) for the implementation lines known by their
    prefix (`fast`: not in a partial submission, whose every line is checked), ("places", count,
    place rows) for the regions' and service points' lines known by theirs (in no particular
    order), and ("line", line, offset, length) for each other line, which the caller decodes.
    Stage rows are (code, digest, offset, length, line), place rows (kind, key, digest, offset,
    length, line): tuples for SQLite, COPY text for PostgreSQL (`pg`)."""
    start = len(PREFIX)
    rows: list[tuple[str, str, int, int, int]] = []
    places: list[tuple[str, str, str, int, int, int]] = []
    with open(path, "rb", buffering=1 << 20) as fh, gc_paused():
        offset, stop, before = _cut(fh, part, parts)
        fh.seek(offset)
        for number, raw in enumerate(fh, before + 1):
            if offset >= stop:
                break
            at = offset
            offset += len(raw)
            if number == 1 and raw.startswith(BOM):
                raw, at = raw[3:], at + 3
            if fast and raw.startswith(PREFIX):
                end = raw.find(b'"', start)
                key = raw[start:end]
                if end > start and b"\\" not in key:
                    body = raw.rstrip(b"\r\n")
                    rows.append(
                        (
                            key.decode(errors="replace"),
                            _blake2b(body, digest_size=16).hexdigest(),
                            at,
                            len(body),
                            number,
                        )
                    )
                    if len(rows) >= ROWS:
                        yield _frame(rows, pg)
                        rows = []
                    continue
            if fast and (place := _place(raw)) is not None:
                places.append(_place_row(*place, raw, at, number))
                if len(places) >= ROWS:
                    yield ("places", len(places), copy_places(places) if pg else places)
                    places = []
                continue
            if rows:
                yield _frame(rows, pg)
                rows = []
            yield ("line", number, at, len(raw))
    if rows:
        yield _frame(rows, pg)
    if places:
        yield ("places", len(places), copy_places(places) if pg else places)


def _place(raw: bytes) -> tuple[str, str] | None:
    """(kind, key) of a region's or a service point's line known by its prefix."""
    for prefix, kind in PLACES:
        if raw.startswith(prefix):
            start = len(prefix)
            end = raw.find(b'"', start)
            key = raw[start:end]
            if end > start and b"\\" not in key:
                return kind, key.decode(errors="replace")
            return None
    return None


def _cut(fh: BinaryIO, part: int, parts: int) -> tuple[int, int, int]:
    """(first byte, end byte, lines before it) of a part: parts start at a line's start."""
    size = fh.seek(0, os.SEEK_END)

    def start(k: int) -> int:
        if k == 0 or k >= parts:
            return 0 if k == 0 else size
        fh.seek(size * k // parts - 1)
        fh.readline()  # to the end of the line that holds the byte before the cut
        return fh.tell()

    first, end = start(part), start(part + 1)
    fh.seek(0)
    before, left = 0, first
    while left > 0:
        chunk = fh.read(min(left, 1 << 22))
        before += chunk.count(b"\n")
        left -= len(chunk)
    return first, end, before


def stage_rows(lines: list[tuple[str, bytes, int, int]], pg: bool) -> list[tuple[Any, ...]] | bytes:
    """Stage rows of (code, line as read, offset, line number) decoded elsewhere."""
    rows = []
    for code, raw, at, number in lines:
        body = raw.rstrip(b"\r\n")
        rows.append((code, _blake2b(body, digest_size=16).hexdigest(), at, len(body), number))
    return _copy(rows) if pg else rows


def place_rows(lines: list[tuple[str, str, bytes, int, int]], pg: bool) -> list[tuple[Any, ...]] | bytes:
    """Place stage rows of (kind, key, line as read, offset, line number) decoded elsewhere."""
    rows = [_place_row(*line) for line in lines]
    return copy_places(rows) if pg else rows


def _place_row(kind: str, key: str, raw: bytes, at: int, number: int) -> tuple[str, str, str, int, int, int]:
    body = raw.rstrip(b"\r\n")
    return kind, key, _blake2b(body, digest_size=16).hexdigest(), at, len(body), number


def _frame(rows: list[tuple[str, str, int, int, int]], pg: bool) -> tuple[Any, ...]:
    return ("rows", rows[0][4], rows[-1][4], len(rows), _copy(rows) if pg else rows)


def _copy(rows: list[tuple[str, str, int, int, int]]) -> bytes:
    """PostgreSQL's COPY text format of the rows."""
    return "".join(f"{copy_text(c)}\t{h}\t{a}\t{n}\t{line}\n" for c, h, a, n, line in rows).encode()


def copy_places(rows: list[tuple[str, str, str, int, int, int]]) -> bytes:
    """PostgreSQL's COPY text format of place rows."""
    return "".join(
        f"{kind}\t{copy_text(key)}\t{h}\t{a}\t{n}\t{line}\n" for kind, key, h, a, n, line in rows
    ).encode()


def copy_text(value: str) -> str:
    """A value for PostgreSQL's COPY text format."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value
