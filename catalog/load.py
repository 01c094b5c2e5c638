"""JSONL → records, one line at a time, every problem located by line number.

The reader streams: it never holds the file, so a national catalog of
millions of implementations is read in constant memory by whoever consumes it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import msgspec

from .findings import Finding, finding
from .model import KEY_FIELD, KIND, Catalog, Record, key_of, record_decoder, record_encoder
from .rules.strings import control_finding
from .wording import KIND_NAMES, decode_problem, named

Line = tuple[int, Record | Finding]


BOM = b"\xef\xbb\xbf"
DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
"""What decoding one line may raise (ValidationError is a DecodeError; RecursionError for JSON
nested too deeply)."""


def without_bom(lines: Iterable[bytes]) -> Iterator[bytes]:
    """The lines, the first without the UTF-8 byte order mark spreadsheet tools write."""
    it = iter(lines)
    for first in it:
        yield first.removeprefix(BOM)
        break
    yield from it


def read_lines(lines: Iterable[bytes]) -> Iterator[Line]:
    """Decode each non-blank line into its record, or a SCHEMA finding saying why not."""
    decode = record_decoder.decode
    for number, raw in enumerate(without_bom(lines), 1):
        try:
            record: Record = decode(raw)
        except DECODE_ERRORS as exc:
            if not raw.strip():
                continue  # a blank line: checked only on failure, so good lines pay nothing for it
            yield number, schema_finding(number, raw, exc)
            continue
        # a control character can only come in escaped
        yield number, (b"\\" in raw and control_finding(record, number)) or record


def read_file(path: str | Path) -> Iterator[Line]:
    """Stream a catalog file. Raises OSError when it cannot be opened at all."""
    with open(path, "rb") as fh:
        yield from read_lines(fh)


def read_stream(fh: BinaryIO) -> Iterator[Line]:
    yield from read_lines(fh)


def read_bytes(data: bytes) -> Iterator[Line]:
    yield from read_lines(data.splitlines())


@contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the cyclic GC out of a bulk decode: records form no cycles, and the
    collector's passes over millions of young objects cost 4x the decode itself."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def schema_finding(number: int, raw: bytes, exc: Exception) -> Finding:
    """The SCHEMA finding for a line that did not decode, naming the record as well as an
    untyped look can (kind and key)."""
    if isinstance(exc, UnicodeDecodeError):
        return finding("SCHEMA", "unknown", None, number, f"第 {number} 行不是 UTF-8 编码的文本。")
    message = decode_problem(str(exc))
    kind, key = "unknown", None
    if isinstance(exc, RecursionError):
        return finding("SCHEMA", kind, key, number, f"第 {number} 行嵌套层数过多，无法读取。")
    try:
        obj = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return finding("SCHEMA", kind, key, number, f"第 {number} 行{_json(message)}。")
    except RecursionError:
        return finding("SCHEMA", kind, key, number, f"第 {number} 行嵌套层数过多，无法读取。")
    if not isinstance(obj, dict):
        return finding("SCHEMA", kind, key, number, f"第 {number} 行不是 JSON 对象。")
    raw_kind = obj.get("kind")
    if isinstance(raw_kind, str):
        kind = raw_kind
        for cls, field in KEY_FIELD.items():
            if KIND[cls] == raw_kind:
                value = obj.get(field)
                key = value if isinstance(value, str) else None
    if raw_kind is None:
        message = "缺少记录类型（kind）"
    where = named(kind, key) if kind in KIND_NAMES and kind != "unknown" else "记录"
    return finding("SCHEMA", kind, key, number, f"第 {number} 行，{where}：{message}。")


def _json(problem: str) -> str:
    """`不是合法的 JSON（…）` as it is; any other reason a line is not JSON after that phrase."""
    return problem if problem.startswith("不是") else f"不是合法的 JSON：{problem}"


def dump_lines(catalog: Catalog) -> Iterator[bytes]:
    """The catalog as JSONL lines, the inverse of `read_lines`: header first, then records
    in the order of the file they were published from, records made later (a designer's
    bundle) at the end. Each line decodes to the same record."""
    encode = record_encoder.encode
    yield encode(catalog.header) + b"\n"
    order = {kind: i for i, kind in enumerate(KIND.values())}
    rows: list[tuple[float, int, str, Record]] = []
    for record in catalog.records()[1:]:
        kind = KIND[type(record)]
        key = key_of(record) or ""
        line = catalog.lines.get(kind, {}).get(key)
        rows.append((float("inf") if line is None else line, order[kind], key, record))
    rows.sort(key=lambda row: row[:3])
    for *_, record in rows:
        yield encode(record) + b"\n"
