"""Indexed reads: each answers one question with the slice it needs, for one version.

A row belongs to version `v` when `valid_from <= v` and it was not closed by
then (`valid_to` NULL or later), so every version stays readable and a read
never mixes two versions, whatever publishes meanwhile.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, Literal

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..codes import COUNTY_DIGITS
from ..findings import Conformity, Finding
from ..model import (
    KIND,
    Agency,
    Bundle,
    Catalog,
    Header,
    Implementation,
    Region,
    ServicePoint,
    record_decoder,
)
from ..tree import subtree
from .case_figures import prefixed
from .case_figures import within as code_range
from .schema import (
    BUNDLES_ROW,
    CATALOG_ROW,
    BundleRow,
    ConformityRow,
    FindingRow,
    ImplementationRow,
    ItemCountRow,
    RecordRow,
    StateRow,
    VersionRow,
)

implementation_decoder = msgspec.json.Decoder(Implementation)
region_decoder = msgspec.json.Decoder(Region)
point_decoder = msgspec.json.Decoder(ServicePoint)
bundle_decoder = msgspec.json.Decoder(Bundle)
MAX_PAGE = 1000


class StoredFinding(Finding, frozen=True, gc=False):
    """A finding as a version keeps it, with the region and item it is about."""

    region: str | None = None
    item: str | None = None


class VersionInfo(msgspec.Struct, frozen=True):
    """One version as `onething versions` lists it (§6)."""

    version: int
    published_at: str
    by: str
    note: str
    region: str | None
    added: int
    changed: int
    removed: int


def _in(table: Any, version: int) -> sa.ColumnElement[bool]:
    return sa.and_(table.valid_from <= version, sa.or_(table.valid_to.is_(None), table.valid_to > version))


IN_LIST = 500
"""Codes per `IN` list (bound parameters stay well under every database's limit)."""


def _among(column: Any, codes: Collection[str]) -> Iterator[sa.ColumnElement[bool]]:
    """`column IN codes` as one condition per `IN_LIST` codes, in code order."""
    wanted = sorted(codes)
    for start in range(0, len(wanted), IN_LIST):
        yield column.in_(wanted[start : start + IN_LIST])


def heads(conn: Connection) -> tuple[int, int]:
    """(newest catalog version, bundles revision): what every request compares."""
    rows = dict(conn.execute(sa.select(StateRow.id, StateRow.counter)).all())
    return rows.get(CATALOG_ROW, 0), rows.get(BUNDLES_ROW, 0)


def version_row(conn: Connection, version: int) -> Any:
    """The version's row (attributes as `VersionRow`'s columns), or None."""
    t = VersionRow.__table__
    return conn.execute(sa.select(t).where(t.c.version == version)).first()


def versions(conn: Connection) -> list[VersionInfo]:
    t = VersionRow.__table__
    rows = conn.execute(sa.select(t).order_by(t.c.version)).all()
    return [
        VersionInfo(
            version=r.version,
            published_at=r.published_at.isoformat(timespec="seconds"),
            by=r.by,
            note=r.note,
            region=r.region,
            added=r.added,
            changed=r.changed,
            removed=r.removed,
        )
        for r in rows
    ]


def dictionaries(conn: Connection, version: int, *, local: bool = True) -> Catalog:
    """The small records of a version (header, regions, materials, fields, items, questions,
    service points) with their lines; no implementations, no bundles. Without `local`, no
    township or village and no service point: what a worker holds of a five-level catalog
    (`region_chain` and `service_points_in` read those where they are needed)."""
    tables: dict[str, dict[str, Any]] = {kind: {} for kind in _TABLE}
    header = Header(format="", version="")
    decode = record_decoder.decode
    columns = (RecordRow.kind, RecordRow.key, RecordRow.line, RecordRow.body)
    query: Any
    if local:
        query = sa.select(*columns).where(_in(RecordRow, version)).order_by(RecordRow.kind, RecordRow.key)
    else:  # two index ranges (by kind; regions by the length of their code), not a scan of a million
        held = [kind for kind in (*_TABLE, "catalog") if kind not in ("region", "service_point")]
        query = sa.union_all(
            sa.select(*columns).where(RecordRow.kind.in_(held), _in(RecordRow, version)),
            sa.select(*columns).where(
                RecordRow.kind == "region", SHORT_CODE <= COUNTY_DIGITS, _in(RecordRow, version)
            ),
        )
    rows = conn.execute(query)
    lines: dict[str, dict[str, int]] = {}
    for kind, key, line, body in rows:
        record = decode(body)
        if kind == "catalog":
            header = record  # type: ignore[assignment]
            if line is not None:
                lines["catalog"] = {"": line}
            continue
        tables[kind][key] = record
        if line is not None:
            lines.setdefault(kind, {})[key] = line
    return Catalog(header=header, lines=lines, **{_TABLE[kind]: table for kind, table in tables.items()})


SHORT_CODE = sa.func.length(RecordRow.key)
"""The expression `schema.CODE_LENGTH` indexes."""


def local_exceeds(conn: Connection, version: int, limit: int) -> bool:
    """Whether a version has more than `limit` townships, villages and service points: counted
    no further than `limit` + 1 (a national catalog has over a million)."""
    local = sa.or_(
        RecordRow.kind == "service_point", sa.and_(RecordRow.kind == "region", SHORT_CODE > COUNTY_DIGITS)
    )
    probe = sa.select(RecordRow.key).where(local, _in(RecordRow, version)).limit(limit + 1).subquery()
    return int(conn.execute(sa.select(sa.func.count()).select_from(probe)).scalar_one()) > limit


def local_count(conn: Connection, version: int) -> tuple[int, int]:
    """(townships and villages, service points) of a version: what `local` adds."""
    query = (
        sa.select(RecordRow.kind, sa.func.count())
        .where(
            _in(RecordRow, version),
            sa.or_(
                RecordRow.kind == "service_point",
                sa.and_(RecordRow.kind == "region", SHORT_CODE > COUNTY_DIGITS),
            ),
        )
        .group_by(RecordRow.kind)
    )
    counts = {kind: int(n) for kind, n in conn.execute(query)}
    return counts.get("region", 0), counts.get("service_point", 0)


def region_chain(conn: Connection, version: int, code: str, known: Collection[str] = ()) -> list[Region]:
    """The region `code` and its ancestors, nearest first, up to (not including) the first one in
    `known`; empty for a region the version does not have. The ancestors a code's shape implies
    (a village's township, 9 digits; their county, 6) come in one query; a parent elsewhere is
    read by key."""
    out: list[Region] = []
    decode = region_decoder.decode
    implied = {code[:n] for n in (6, 9, 12) if n <= len(code)} | {code}
    fetched: dict[str, Region] = {}
    wanted: str | None = code
    while wanted is not None and wanted not in known and len(out) < MAX_DEPTH:
        if wanted not in fetched:
            keys = (
                [k for k in sorted(implied) if k not in fetched and k not in known]
                if wanted in implied
                else [wanted]
            )
            rows = conn.execute(
                sa.select(RecordRow.body).where(
                    RecordRow.kind == "region", RecordRow.key.in_(keys), _in(RecordRow, version)
                )
            )
            fetched.update((r.code, r) for r in (decode(body) for (body,) in rows))
            if wanted not in fetched:
                return []
        region = fetched[wanted]
        out.append(region)
        wanted = region.parent
    return out


def region_subtree(conn: Connection, version: int, code: str) -> frozenset[str]:
    """The region and every region under it (empty when the version has no such region): level
    by level through the index on a region's parent, never the whole tree."""
    exists = conn.execute(
        sa.select(RecordRow.key).where(
            RecordRow.kind == "region", RecordRow.key == code, _in(RecordRow, version)
        )
    ).first()
    if exists is None:
        return frozenset()
    out, level = {code}, [code]
    while level:
        children: list[str] = []
        for among in _among(RecordRow.region, level):
            children += conn.execute(
                sa.select(RecordRow.key).where(RecordRow.kind == "region", among, _in(RecordRow, version))
            ).scalars()
        level = [c for c in children if c not in out]
        out.update(level)
    return frozenset(out)


def regions_under(conn: Connection, version: int, parents: Collection[str]) -> dict[str, list[Region]]:
    """The regions directly under each of `parents`, in code order, through the index on a
    region's parent (a county's townships, a township's villages: tens each)."""
    out: dict[str, list[Region]] = {}
    for among in _among(RecordRow.region, parents):
        rows = conn.execute(
            sa.select(RecordRow.body)
            .where(RecordRow.kind == "region", among, _in(RecordRow, version))
            .order_by(RecordRow.key)
        )
        for (body,) in rows:
            region = region_decoder.decode(body)
            out.setdefault(region.parent or "", []).append(region)
    return out


def children_counts(conn: Connection, version: int, parents: Collection[str]) -> dict[str, int]:
    """How many regions stand directly under each of `parents` (none: left out)."""
    out: dict[str, int] = {}
    for among in _among(RecordRow.region, parents):
        rows = conn.execute(
            sa.select(RecordRow.region, sa.func.count())
            .where(RecordRow.kind == "region", among, _in(RecordRow, version))
            .group_by(RecordRow.region)
        )
        out.update((str(parent), int(n)) for parent, n in rows)
    return out


def regions_page(
    conn: Connection, version: int, length: int | None, after: str | None, limit: int
) -> list[Region]:
    """At most `limit` regions in code order past `after` (None: from the first), only those whose
    code has `length` digits when given (townships 9, villages 12): a page read by key, not the
    half million."""
    query = sa.select(RecordRow.body).where(RecordRow.kind == "region", _in(RecordRow, version))
    if length is not None:
        query = query.where(SHORT_CODE == length)  # noqa: SIM300 - an expression, not a constant
    if after is not None:
        query = query.where(RecordRow.key > after)
    rows = conn.execute(query.order_by(RecordRow.key).limit(limit))
    return [region_decoder.decode(body) for (body,) in rows]


def region_count(conn: Connection, version: int, length: int | None) -> int:
    """How many regions the version has (with `length`: whose code has that many digits)."""
    query = (
        sa.select(sa.func.count())
        .select_from(RecordRow)
        .where(RecordRow.kind == "region", _in(RecordRow, version))
    )
    if length is not None:
        query = query.where(SHORT_CODE == length)  # noqa: SIM300 - an expression, not a constant
    return int(conn.execute(query).scalar_one())


def dictionaries_around(conn: Connection, version: int, region: str, within: Collection[str]) -> Catalog:
    """What a region's partial submission is checked against: the small records but the
    townships, villages and service points, plus the region's chain and the regions `within`
    its subtree."""
    catalog = dictionaries(conn, version, local=False)
    lines = catalog.lines.setdefault("region", {})
    extra = region_chain(conn, version, region, catalog.regions)
    decode = region_decoder.decode
    for among in _among(RecordRow.key, [c for c in within if c not in catalog.regions]):
        rows = conn.execute(
            sa.select(RecordRow.line, RecordRow.body).where(
                RecordRow.kind == "region", among, _in(RecordRow, version)
            )
        )
        for line, body in rows:
            found = decode(body)
            extra.append(found)
            if line is not None:
                lines[found.code] = line
    catalog.regions.update((r.code, r) for r in extra)
    return catalog


def within(
    conn: Connection, version: int, held: Mapping[str, Region], root: str | None, points: bool = True
) -> tuple[dict[str, Region], dict[str, ServicePoint]]:
    """The regions of `root`'s subtree (None: every region) and (with `points`) the service
    points standing in them, where `held` is the version's regions down to the county (a worker's lean view): the
    townships, villages and points `held` leaves out are read as one range of codes each
    (`case_figures.within`: a region's subtree is a range, GB/T 2260 and §1 — a township is its
    county's 6 digits + TTT, a village its township's 9 + VVV), not region by region. Empty for
    a region the version does not have."""
    if root is None or root in held:
        regions = dict(held) if root is None else {c: held[c] for c in subtree(held, root)}
        counties: Collection[str] = regions.keys()
    else:  # a township or village: everything in its range is under it
        regions, counties = {}, {root[:COUNTY_DIGITS]}
    rows = conn.execute(
        sa.select(RecordRow.body).where(
            RecordRow.kind == "region",
            SHORT_CODE > COUNTY_DIGITS,
            *code_range(RecordRow.key, root),
            _in(RecordRow, version),
        )
    )
    for (body,) in rows:
        region = region_decoder.decode(body)
        if region.code[:COUNTY_DIGITS] in counties:
            regions[region.code] = region
    if root is not None and root not in regions:
        return {}, {}
    if not points:
        return regions, {}
    query = sa.select(RecordRow.body).where(
        RecordRow.kind == "service_point", *code_range(RecordRow.region, root), _in(RecordRow, version)
    )
    found = (point_decoder.decode(body) for (body,) in conn.execute(query.order_by(RecordRow.key)))
    return regions, {p.id: p for p in found if p.region in regions}


MAX_DEPTH = 6
"""The levels a chain can have: a longer one loops."""


def service_points_in(conn: Connection, version: int, regions: Collection[str]) -> dict[str, ServicePoint]:
    """The service points standing in `regions`, by id: the points along an applicant's chain,
    through the index on where a record stands."""
    decode = point_decoder.decode
    query = (
        sa.select(RecordRow.body)
        .where(
            RecordRow.kind == "service_point", RecordRow.region.in_(list(regions)), _in(RecordRow, version)
        )
        .order_by(RecordRow.key)
    )
    points = (decode(body) for (body,) in conn.execute(query))
    return {p.id: p for p in points}


_TABLE = {kind: kind + "s" for kind in KIND.values() if kind not in ("catalog", "implementation", "bundle")}
"""kind -> the Catalog attribute holding it (region -> regions, …)."""


def implementations(
    conn: Connection,
    version: int,
    *,
    regions: Sequence[str] | None = None,
    items: Sequence[str] | None = None,
    codes: Sequence[str] | None = None,
) -> list[Implementation]:
    """The implementations in `regions`, of `items`, with `codes` (each filter when given): one
    bundle's slice along one region chain, every implementation on a region's path, a few by code."""
    t = ImplementationRow
    query = sa.select(t.body).where(_in(t, version))
    if regions is not None:
        query = query.where(t.region.in_(list(regions)))
    if items is not None:
        query = query.where(t.item.in_(list(items)))
    if codes is not None:
        query = query.where(t.code.in_(list(codes)))
    decode = implementation_decoder.decode
    return [decode(body) for (body,) in conn.execute(query.order_by(t.code))]


class Placement(msgspec.Struct, frozen=True, gc=False, tag="implementation", tag_field="kind"):
    """What an applicant's list of items shows of an implementation (`placements`): its body
    read for these fields only, the rest skipped (a third of the decoding)."""

    code: str
    item: str
    region: str
    agency: Agency
    promised_days: int
    visits: int
    online_depth: int
    fee: float = 0.0


placement_decoder = msgspec.json.Decoder(Placement)


def placements(conn: Connection, version: int, path: Sequence[str]) -> list[Placement]:
    """§4 step 1 for every item implemented on a region's `path` (the region first, then its
    ancestors): each item's implementation in the nearest region that has one, the smallest code
    there — chosen by the database (a window over the path's rows), so only the chosen are sent
    and decoded (at national scale a county's path holds twice as many rows as items). By code."""
    t = ImplementationRow
    nearest = sa.case({region: k for k, region in enumerate(path)}, value=t.region, else_=len(path))
    ranked = (
        sa.select(
            t.body,
            t.code,
            sa.func.row_number().over(partition_by=t.item, order_by=(nearest, t.code)).label("n"),
        )
        .where(_in(t, version))
        .where(t.region.in_(list(path)))
        .subquery()
    )
    query = sa.select(ranked.c.body).where(ranked.c.n == 1).order_by(ranked.c.code)
    decode = placement_decoder.decode
    return [decode(body) for (body,) in conn.execute(query)]


def region_implementations(
    conn: Connection, version: int, regions: Collection[str]
) -> Iterator[Implementation]:
    """The implementations of `regions`, region by region in code order, each region's by item and
    code: one indexed query per region, so memory holds one region's list at a time (a sheet of
    a province's subtree never holds the province)."""
    t = ImplementationRow
    decode = implementation_decoder.decode
    for region in sorted(regions):
        query = sa.select(t.body).where(t.region == region, _in(t, version)).order_by(t.item, t.code)
        for (body,) in conn.execute(query).all():
            yield decode(body)


def every_implementation(conn: Connection, version: int) -> Iterator[Implementation]:
    """Every implementation of a version, streamed (no order): for a whole-catalog figure."""
    t = ImplementationRow
    decode = implementation_decoder.decode
    rows = conn.execute(
        sa.select(t.body).where(_in(t, version)),
        execution_options={"stream_results": True, "yield_per": 20_000},
    )
    for (body,) in rows:
        yield decode(body)


def item_implementations(
    conn: Connection, version: int, item: str, limit: int, offset: int
) -> tuple[int, list[tuple[Implementation, int | None]]]:
    """One page of an item's implementations, national first, then by region and code."""
    t = ImplementationRow
    where = sa.and_(t.item == item, _in(t, version))
    total = conn.execute(sa.select(sa.func.count()).select_from(t).where(where)).scalar_one()
    rows = conn.execute(
        sa.select(t.body, t.line).where(where).order_by(t.level, t.region, t.code).limit(limit).offset(offset)
    )
    decode = implementation_decoder.decode
    return total, [(decode(body), line) for body, line in rows]


def implementation(conn: Connection, version: int, code: str) -> tuple[Implementation, int | None] | None:
    t = ImplementationRow
    row = conn.execute(sa.select(t.body, t.line).where(t.code == code, _in(t, version))).first()
    return None if row is None else (implementation_decoder.decode(row[0]), row[1])


def findings(
    conn: Connection,
    version: int,
    *,
    rule: str | None = None,
    severity: str | None = None,
    kind: str | None = None,
    keys: Sequence[str] | None = None,
    item: str | None = None,
    region_prefix: str | None = None,
    limit: int = MAX_PAGE,
    offset: int = 0,
) -> tuple[int, list[StoredFinding]]:
    """One page of a version's findings, filtered, in the order validation gave them."""
    t = FindingRow
    where = [t.version == version]
    if rule:
        where.append(t.rule == rule)
    if severity:
        where.append(t.severity == severity)
    if kind:
        where.append(t.kind == kind)
    if keys is not None:
        where.append(t.key.in_(list(keys)))
    if item is not None:
        where.append(t.item == item)
    if region_prefix is not None:
        where.append(t.region.like(region_prefix + "%") if region_prefix else t.region.is_not(None))
    total = conn.execute(sa.select(sa.func.count()).select_from(t).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(t.rule, t.severity, t.kind, t.key, t.line, t.message, t.region, t.item)
        .where(*where)
        .order_by(t.seq)
        .limit(limit)
        .offset(offset)
    )
    return total, [StoredFinding(*row) for row in rows]  # type: ignore[arg-type]  # severity is a Literal


def rule_counts(conn: Connection, version: int) -> dict[str, int]:
    t = FindingRow
    return dict(
        conn.execute(sa.select(t.rule, sa.func.count()).where(t.version == version).group_by(t.rule)).all()
    )


def finding_totals(conn: Connection, version: int) -> tuple[int, int]:
    row = version_row(conn, version)
    return (0, 0) if row is None else (row.errors, row.warnings)


def conformity(
    conn: Connection, version: int, prefix: str | None = None, regions: Collection[str] | None = None
) -> list[Conformity]:
    """The version's conformity rows, in region order; with `prefix`, only the regions whose code
    starts with it (a subtree's: a range of the key, not half a million rows at five levels);
    with `regions`, only theirs (read by key)."""
    t = ConformityRow
    query = sa.select(t.region, t.implementations, t.conforming).where(
        t.version == version, *prefixed(t.region, prefix or "")
    )
    if regions is None:
        return [Conformity(*row) for row in conn.execute(query.order_by(t.region))]
    out: list[Conformity] = []
    for among in _among(t.region, regions):
        out += (Conformity(*row) for row in conn.execute(query.where(among).order_by(t.region)))
    return out


def item_counts(conn: Connection, version: int) -> dict[str, int]:
    t = ItemCountRow
    return dict(conn.execute(sa.select(t.item, t.implementations).where(t.version == version)).all())


def bundles(conn: Connection) -> list[tuple[str, str, int, int | None]]:
    """(id, body, version, line) of every stored bundle, by id."""
    return [
        (r[0], r[1], r[2], r[3])
        for r in conn.execute(
            sa.select(BundleRow.id, BundleRow.body, BundleRow.version, BundleRow.line).order_by(BundleRow.id)
        )
    ]  # type: ignore[misc]


def export(conn: Connection, version: int) -> Iterator[bytes]:
    """The version as JSONL (§1), header first, each kind by key, streamed: at no point the
    whole catalog in memory. Bundles are the stored ones (they are kept outside versions)."""
    order = [k for k in KIND.values() if k not in ("implementation", "bundle")]
    small = conn.execute(
        sa.select(RecordRow.kind, RecordRow.body).where(_in(RecordRow, version)).order_by(RecordRow.key)
    ).all()
    for kind in order:
        for row_kind, body in small:
            if row_kind == kind:
                yield body.encode() + b"\n"
    t = ImplementationRow
    rows = conn.execute(
        sa.select(t.body).where(_in(t, version)).order_by(t.code),
        execution_options={"stream_results": True, "yield_per": 20_000},
    )
    buffer: list[bytes] = []
    for (body,) in rows:
        buffer.append(body.encode())
        if len(buffer) >= 5000:
            yield b"\n".join(buffer) + b"\n"
            buffer.clear()
    if buffer:
        yield b"\n".join(buffer) + b"\n"
    for _, body, _, _ in bundles(conn):
        yield body.encode() + b"\n"


class Flag(msgspec.Struct, frozen=True):
    """A record of a version that needs review (§6), with its error findings and their cause."""

    kind: str
    key: str
    region: str | None
    findings: list[Finding]
    cause: dict[str, Any]


def whole(conn: Connection, version: int) -> Catalog:
    """A whole version in memory with the stored bundles (`Store.catalog`: tests, small tools)."""
    out = dictionaries(conn, version)
    t = ImplementationRow
    impl_lines: dict[str, int] = {}
    for code, body, line in conn.execute(
        sa.select(t.code, t.body, t.line).where(_in(t, version)).order_by(t.code)
    ):
        out.implementations[code] = implementation_decoder.decode(body)
        if line is not None:
            impl_lines[code] = line
    if impl_lines:
        out.lines["implementation"] = impl_lines
    bundle_lines: dict[str, int] = {}
    for bundle_id, body, _, line in bundles(conn):
        out.bundles[bundle_id] = bundle_decoder.decode(body)
        if line is not None:
            bundle_lines[bundle_id] = line
    if bundle_lines:
        out.lines["bundle"] = bundle_lines
    return out


class Diff(msgspec.Struct, frozen=True, rename={"old": "from", "new": "to"}):
    """What changed between two versions (§6): per kind, keys added and removed, and for each
    changed record the fields that differ, old and new."""

    old: int
    new: int
    added: dict[str, list[str]]
    removed: dict[str, list[str]]
    changed: dict[str, dict[str, dict[str, list[Any]]]]


CHANGES: tuple[Literal["added", "removed", "changed"], ...] = ("added", "removed", "changed")


def _small_diff(conn: Connection, a: int, b: int) -> dict[tuple[str, str], list[tuple[str, Any]]]:
    """(kind, change) → [(key, fields or None)] of the small records, compared in memory."""
    from .publish.rule import field_changes

    def small(version: int) -> dict[tuple[str, str], tuple[str, str]]:
        rows = conn.execute(
            sa.select(RecordRow.kind, RecordRow.key, RecordRow.hash, RecordRow.body).where(
                _in(RecordRow, version)
            )
        )
        return {(kind, key): (hashed, body) for kind, key, hashed, body in rows}

    old, new = small(a), small(b)
    out: dict[tuple[str, str], list[tuple[str, Any]]] = {}
    for kind, key in sorted(new.keys() - old.keys()):
        out.setdefault((kind, "added"), []).append((key, None))
    for kind, key in sorted(old.keys() - new.keys()):
        out.setdefault((kind, "removed"), []).append((key, None))
    for kind, key in sorted(old.keys() & new.keys()):
        if old[(kind, key)][0] != new[(kind, key)][0]:
            fields = field_changes(old[(kind, key)][1], new[(kind, key)][1])
            if fields:
                out.setdefault((kind, "changed"), []).append((key, fields))
    return out


def _implementation_diff(a: int, b: int, change: str) -> Any:
    """The implementations `change`d from a to b: a query of (code, old body, new body)."""
    t = ImplementationRow.__table__
    x = t.alias("x")
    if change == "changed":  # another row holds the code in b, with other bytes
        return (
            sa.select(t.c.code, t.c.body, x.c.body)
            .join(x, x.c.code == t.c.code)
            .where(_in(t.c, a), _in(x.c, b), t.c.valid_from != x.c.valid_from, t.c.hash != x.c.hash)
        )
    here, there = (b, a) if change == "added" else (a, b)
    return sa.select(t.c.code, sa.null(), sa.null()).where(
        _in(t.c, here), ~sa.exists().where(x.c.code == t.c.code, _in(x.c, there))
    )


def diff_counts(conn: Connection, a: int, b: int) -> dict[str, dict[str, int]]:
    """kind → {added, removed, changed}: how many records of each kind changed from a to b."""
    counts: dict[str, dict[str, int]] = {}
    for (kind, change), entries in _small_diff(conn, a, b).items():
        counts.setdefault(kind, dict.fromkeys(CHANGES, 0))[change] = len(entries)
    for change in CHANGES:
        query = sa.select(sa.func.count()).select_from(_implementation_diff(a, b, change).subquery())
        if found := conn.execute(query).scalar_one():
            counts.setdefault("implementation", dict.fromkeys(CHANGES, 0))[change] = found
    return dict(sorted(counts.items()))


def diff_segment(
    conn: Connection,
    a: int,
    b: int,
    kind: str,
    change: str,
    offset: int,
    limit: int,
    after: str | None = None,
) -> list[tuple[str, Any]]:
    """One page of a kind's added, removed or changed records, by key: (key, the fields that
    differ — {field: [old, new]} — for a changed one, else None), from the key past `after`
    (keyset: the database goes straight to it) and `offset` more. Implementations are read a
    page at a time: a diff of a million changes is never in memory at once."""
    from .publish.rule import field_changes

    if kind != "implementation":
        found = _small_diff(conn, a, b).get((kind, change), [])
        if after is not None:
            found = [entry for entry in found if entry[0] > after]
        return found[offset : offset + limit]
    query = _implementation_diff(a, b, change)
    key = query.selected_columns[0]
    if after is not None:
        query = query.where(key > after)
    rows = conn.execute(query.order_by(key).limit(limit).offset(offset))
    # A line only written differently is not a change: the store keeps the old row then (and
    # an old version published again brings its rows' bytes back), so other bytes differ in
    # some field.
    return [(code, None if before is None else field_changes(before, after)) for code, before, after in rows]


def diff(conn: Connection, a: int, b: int) -> Diff:
    """The whole diff in memory: for a held submission's (at most the pending body's size)."""
    added: dict[str, list[str]] = {}
    removed: dict[str, list[str]] = {}
    changed: dict[str, dict[str, dict[str, list[Any]]]] = {}
    for kind, counts in diff_counts(conn, a, b).items():
        for change, n in counts.items():
            if not n:
                continue
            entries = diff_segment(conn, a, b, kind, change, 0, n)
            if change == "changed":
                changed[kind] = dict(entries)
            else:
                (added if change == "added" else removed)[kind] = [key for key, _ in entries]
    return Diff(old=a, new=b, added=added, removed=removed, changed=changed)
