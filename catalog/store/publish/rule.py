"""The publish rule of §6: an error on a record the submission touches refuses the publish;
an error on an untouched record (broken by a change elsewhere — 上级事项变更) lets it through
and flags the record as needing review, with that change as the cause."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...findings import Finding
from ..schema import FindingRow, ImplementationRow, ReviewRow

ALWAYS_TOUCHED = frozenset({"SCHEMA", "HEADER", "DUPLICATE"})
"""Rules about the submission's own lines: whatever they name, the submission brought it."""


class Touched(msgspec.Struct):
    """What a publish touched: small records and bundles by key, and, for the changed small
    records, their old and new bodies (what a needs-review cause shows)."""

    small: set[tuple[str, str]] = msgspec.field(default_factory=set)
    """Small records added or changed."""
    bundles: set[str] = msgspec.field(default_factory=set)
    changed: dict[tuple[str, str], tuple[str, str]] = msgspec.field(default_factory=dict)
    """(kind, key) -> (old body, new body) of the changed small records."""
    removed: set[tuple[str, str]] = msgspec.field(default_factory=set)
    """Small records removed."""


def touched_errors(
    conn: Connection, version: int, errors: Sequence[Finding], touched: Touched
) -> list[Finding]:
    """The error findings on records the publish of `version` touched (added or changed)."""
    keys = sorted({f.key for f in errors if f.kind == "implementation" and f.key})
    written: set[str] = set()
    t = ImplementationRow
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        written.update(conn.scalars(sa.select(t.code).where(t.valid_from == version, t.code.in_(chunk))))
    out = []
    for f in errors:
        if f.rule in ALWAYS_TOUCHED or f.key is None:
            hit = True
        elif f.kind == "implementation":
            hit = f.key in written
        elif f.kind == "bundle":
            hit = f.key in touched.bundles
        else:
            hit = (f.kind, f.key) in touched.small
        if hit:
            out.append(f)
    return out


def flag(conn: Connection, version: int, touched: Touched) -> int:
    """Flag every record with an error finding in `version` (none is touched: those refused),
    each with its cause: the change of its item or region in this publish, else the cause it
    was flagged with before. Returns how many records were flagged."""
    f = FindingRow
    rows = conn.execute(
        sa.select(f.kind, f.key, f.region, f.item)
        .where(f.version == version, f.severity == "error", f.key.is_not(None))
        .distinct()
    ).all()
    if not rows:
        return 0
    r = ReviewRow
    before = {
        (kind, key): cause
        for kind, key, cause in conn.execute(
            sa.select(r.kind, r.key, r.cause).where(r.version == version - 1)
        )
    }
    flags: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, key, region, item in rows:
        assert key is not None  # the query keeps only keyed findings
        if (kind, key) in flags:
            continue
        cause = _cause(touched, item, region)
        flags[(kind, key)] = {
            "version": version,
            "kind": kind,
            "key": key,
            "region": region,
            "item": item,
            "cause": cause if cause is not None else before.get((kind, key), "{}"),
        }
    conn.execute(sa.insert(ReviewRow), list(flags.values()))
    return len(flags)


def _cause(touched: Touched, item: str | None, region: str | None) -> str | None:
    for kind, key in (("item", item), ("region", region)):
        if key is not None and (kind, key) in touched.changed:
            old, new = touched.changed[(kind, key)]
            return msgspec.json.encode({kind: key, "changed": field_changes(old, new)}).decode()
    return None


def field_changes(old: str | bytes, new: str | bytes) -> dict[str, list[Any]]:
    """The fields that differ between two bodies of one record: {field: [old, new]}."""
    a: dict[str, Any] = msgspec.json.decode(old)
    b: dict[str, Any] = msgspec.json.decode(new)
    return {
        name: [a.get(name), b.get(name)] for name in sorted(a.keys() | b.keys()) if a.get(name) != b.get(name)
    }
