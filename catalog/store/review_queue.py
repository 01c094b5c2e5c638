"""The needs-review queue of a version (§6): the records a publish flagged, filtered and paged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..findings import Finding
from ..tree import subtree
from . import reads
from .reads import Flag
from .schema import FindingRow, ReviewRow


def queue(conn: Connection, version: int | None, region: str | None) -> tuple[int, list[Flag]]:
    """(version, its needs-review queue), the newest by default; `region` keeps its subtree."""
    version = reads.heads(conn)[0] if version is None else version
    within = None
    if region is not None:
        regions = reads.dictionaries(conn, version).regions
        within = sorted(subtree(regions, region))
    r = ReviewRow
    query = sa.select(r.kind, r.key, r.region, r.cause).where(r.version == version).order_by(r.kind, r.key)
    if within is not None:
        query = query.where(r.region.in_(within))
    return version, _flags(conn, version, conn.execute(query).all())


def review_page(
    conn: Connection,
    version: int,
    *,
    regions: Sequence[str] | None,
    rule: str | None,
    item: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[Flag]]:
    """The version's needs-review flags of `regions`, whose item is `item`, with an error of
    `rule` — counted, then one page of them by kind and key with their findings and cause."""
    r, f = ReviewRow, FindingRow
    where: list[Any] = [r.version == version]
    if regions is not None:
        where.append(r.region.in_(list(regions)))
    if item is not None:
        where.append(sa.or_(r.item == item, sa.and_(r.kind == "item", r.key == item)))
    if rule is not None:
        where.append(
            sa.exists().where(
                f.version == version,
                f.severity == "error",
                f.rule == rule,
                f.kind == r.kind,
                f.key == r.key,
            )
        )
    total = conn.execute(sa.select(sa.func.count()).select_from(r).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(r.kind, r.key, r.region, r.cause)
        .where(*where)
        .order_by(r.kind, r.key)
        .limit(limit)
        .offset(offset)
    ).all()
    return total, _flags(conn, version, rows)


def _flags(conn: Connection, version: int, rows: Sequence[Any]) -> list[Flag]:
    """(kind, key, region, cause) rows as flags, each with its error findings."""
    f = FindingRow
    found: dict[tuple[str, str], list[Finding]] = {}
    keys = [key for _, key, _, _ in rows]
    for start in range(0, len(keys), 500):
        for row in conn.execute(
            sa.select(f.rule, f.severity, f.kind, f.key, f.line, f.message)
            .where(f.version == version, f.severity == "error", f.key.in_(keys[start : start + 500]))
            .order_by(f.seq)
        ):
            found.setdefault((row[2], row[3]), []).append(Finding(*row))  # type: ignore[arg-type]
    return [
        Flag(
            kind=kind,
            key=key,
            region=region,
            findings=found.get((kind, key), []),
            cause=msgspec.json.decode(cause),
        )
        for kind, key, region, cause in rows
    ]
