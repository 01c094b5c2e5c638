"""SCHEMA for control characters: no string of a catalog holds NUL or another C0 control
character, except tab and newline in free text (descriptions, question texts, addresses, hours,
the title). PostgreSQL refuses NUL outright; the others corrupt every page and notice that
prints them.

JSON forbids raw control characters in strings, so a line can only carry one escaped: callers
look (`b"\\\\" in line`) before walking the record, and a catalog's clean lines pay one byte
search each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from msgspec import Struct

from ..findings import Finding, finding
from ..model import KIND, Record, key_of
from ..wording import field_name, named

FREE_TEXT = frozenset({"title", "description", "text", "address", "hours"})
"""Fields whose text may hold tab and newline."""
_ANY_CONTROL = re.compile("[\x00-\x1f]")
_NOT_TAB_NEWLINE = re.compile("[\x00-\x08\x0b-\x1f]")


def control_finding(record: Record, line: int | None) -> Finding | None:
    """The SCHEMA finding for the record's first string with a control character, or None."""
    for field, value in _strings(record, KIND[type(record)]):
        bad = (_NOT_TAB_NEWLINE if field in FREE_TEXT else _ANY_CONTROL).search(value)
        if bad is not None:
            kind = KIND[type(record)]
            key = key_of(record)
            where = named(kind, key)
            return finding(
                "SCHEMA",
                kind,
                key,
                line,
                f"{where}：字段 {field_name(field)}含有控制字符 U+{ord(bad.group()):04X}，请删去。",
            )
    return None


def _strings(value: object, field: str) -> Iterator[tuple[str, str]]:
    """Every string inside a record (dictionary keys too), with the field it sits in."""
    if isinstance(value, str):
        yield field, value
    elif isinstance(value, Struct):
        for name in value.__struct_fields__:
            yield from _strings(getattr(value, name), name)
    elif isinstance(value, list):
        for element in value:
            yield from _strings(element, field)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k, field)
            yield from _strings(v, field)
