"""Statistics' figures written with each version, so that a region's statistics are an indexed
read of counts instead of a pass over its implementations.

- `catalog_region_figures`: each region's own counts (`catalog.stats.Counts`);
- `catalog_item_figures`: per region above the county with regions under it (and `''`, the
  whole catalog) and item, the implementations in the region's subtree and their distinct
  material lists.

Both keep rows over versions as implementations do (`valid_from`, `valid_to`): a publish closes
the rows that changed and writes their new values. The first publish's validation counts the
lines as it checks them (`catalog.stats.Tally`), a store made before figures were kept its
newest version (`count_all`); a later publish adds and takes away the counts of the rows it
closed and wrote (`RegionDeltas`) and counts again the material lists of the items an
implementation came to, left or moved within (`recount_items`): only those items' rows are
read, never the whole version. A county keeps no item rows, even with townships and villages
under it: the implementations of its subtree are read (`item_figures`), a few thousand. A
change to the region tree counts every item again (rare: the tree is the state's).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..model import Catalog
from ..stats import Counted, Counts, Figured, MaterialLists, rolled_at, rolled_divergence
from .reads import _among, _in
from .schema import ImplementationRow, ItemFiguresRow, RegionFiguresRow


class Figures(msgspec.Struct):
    """What the figures read of an implementation's line (the rest is skipped, not decoded)."""

    item: str = ""
    region: str = ""
    online_depth: int = 0
    visits: int = 0
    promised_days: int = 0
    statutory_days: int = 0
    channels: list[str] | None = None
    materials: msgspec.Raw = msgspec.Raw(b"")


figures_of = msgspec.json.Decoder(Figures).decode
# -- writing -----------------------------------------------------------------------------------


def write(conn: Connection, version: int, figured: Figured) -> None:
    """The figures a first publish's validation counted (`catalog.stats.Tally`)."""
    write_own(conn, version, figured.own)
    _insert_items(conn, version, figured.rolled)


def count_all(conn: Connection, version: int, catalog: Catalog) -> None:
    """Every figure of `version`, counted from its implementations in one streamed pass: the
    first publish, and a store made before figures were kept. Writes no row that exists."""
    t = ImplementationRow
    rows = conn.execute(
        sa.select(t.body).where(_in(t, version)),
        execution_options={"stream_results": True, "yield_per": 20_000},
    )
    own: dict[str, Counts] = {}
    lists = MaterialLists(catalog.items)

    def pairs() -> Iterator[tuple[str, str, int]]:
        for (body,) in rows:
            row = figures_of(body)
            counts = own.get(row.region)
            if counts is None:
                counts = own[row.region] = Counts()
            counts.add(row)
            key = lists.of(row.item, bytes(row.materials))
            if key is not None:
                yield row.item, row.region, key

    rolled = rolled_divergence(catalog.regions, rolled_at(catalog.regions), pairs())
    write_own(conn, version, own)
    _insert_items(conn, version, rolled)


class RegionDeltas:
    """What a publish adds to and takes from each region's own counts, as it writes and closes
    implementation rows."""

    def __init__(self) -> None:
        self.by_region: dict[str, Counts] = {}

    def add(self, impl: Counted, region: str, by: int = 1) -> None:
        counts = self.by_region.get(region)
        if counts is None:
            counts = self.by_region[region] = Counts()
        counts.add(impl, by)

    def write(self, conn: Connection, version: int) -> None:
        """Close the counts of the regions where something moved; write their new counts."""
        moved = {
            r: d for r, d in self.by_region.items() if any(getattr(d, f) for f in Counts.__struct_fields__)
        }
        if not moved:
            return
        t = RegionFiguresRow
        fields = Counts.__struct_fields__
        current: dict[str, Counts] = {}
        for among in _among(t.region, moved):
            query = sa.select(t.region, *[getattr(t, f) for f in fields]).where(among, t.valid_to.is_(None))
            for region, *values in conn.execute(query):
                current[region] = Counts(*values)
        if current:
            conn.execute(
                sa.update(t)
                .where(t.region == sa.bindparam("r"), t.valid_to.is_(None))
                .values(valid_to=version),
                [{"r": r} for r in current],
            )
        new: dict[str, Counts] = {}
        for region, delta in moved.items():
            counts = current.get(region) or Counts()
            counts.merge(delta)
            if counts.implementations:
                new[region] = counts
        write_own(conn, version, new)


def recount_items(conn: Connection, version: int, catalog: Catalog, items: Collection[str] | None) -> None:
    """Count again the material lists of `items` (None: every item, when the region tree
    changed) from their implementations in `version`; close the rows that changed, write the
    new ones."""
    at = rolled_at(catalog.regions)
    lists = MaterialLists(catalog.items)
    t = ImplementationRow
    f = ItemFiguresRow
    queries: list[Any]
    if items is None:
        queries = [sa.select(t.body).where(_in(t, version))]
    else:
        queries = [sa.select(t.body).where(among, _in(t, version)) for among in _among(t.item, items)]

    def pairs() -> Iterator[tuple[str, str, int]]:
        for query in queries:
            for (body,) in conn.execute(
                query, execution_options={"stream_results": True, "yield_per": 20_000}
            ):
                row = figures_of(body)
                key = lists.of(row.item, bytes(row.materials))
                if key is not None:
                    yield row.item, row.region, key

    counted = rolled_divergence(catalog.regions, at, pairs())
    held = sa.select(f.region, f.item, f.implementations, f.material_lists).where(f.valid_to.is_(None))
    current: dict[tuple[str, str], tuple[int, int]] = {}
    if items is None:
        current = {(r, i): (n, m) for r, i, n, m in conn.execute(held)}
    else:
        for among in _among(f.item, items):
            current.update(((r, it), (n, m)) for r, it, n, m in conn.execute(held.where(among)))
    closing = [{"r": r, "i": i} for (r, i), v in current.items() if counted.get((r, i)) != v]
    if closing:
        conn.execute(
            sa.update(f)
            .where(f.region == sa.bindparam("r"), f.item == sa.bindparam("i"), f.valid_to.is_(None))
            .values(valid_to=version),
            closing,
        )
    _insert_items(conn, version, {k: v for k, v in counted.items() if current.get(k) != v})


def write_own(conn: Connection, version: int, counts: Mapping[str, Counts]) -> None:
    """Regions' own counts (also those a first publish's validation sent apart: below the
    county, a few counties at a time)."""
    fields = Counts.__struct_fields__
    _load(
        conn,
        RegionFiguresRow.__tablename__,
        ("region", "valid_from", *fields),
        [
            (region, version, *(getattr(c, f) for f in fields))
            for region, c in counts.items()
            if c.implementations
        ],
    )


def write_rolled(conn: Connection, version: int, rows: Iterable[tuple[str, str, int, int]]) -> None:
    """Item figures a first publish's validation sent apart: (region, item, implementations,
    distinct material lists)."""
    _load(
        conn,
        ItemFiguresRow.__tablename__,
        ("region", "item", "valid_from", "implementations", "material_lists"),
        [(region, item, version, n, m) for region, item, n, m in rows],
    )


def _insert_items(conn: Connection, version: int, rolled: Mapping[tuple[str, str], tuple[int, int]]) -> None:
    write_rolled(conn, version, ((region, item, n, m) for (region, item), (n, m) in rolled.items()))


def _load(conn: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Rows in bulk (COPY on PostgreSQL): a first publish writes a hundred thousand."""
    from .publish.bulk import BulkLoader  # the publish package imports this module

    if not rows:
        return
    loader = BulkLoader(conn, table, columns)
    for row in rows:
        loader.add(*row)
    loader.close()


# -- reading -----------------------------------------------------------------------------------


def kept(conn: Connection, version: int) -> bool:
    """Whether `version` has figures: published since they are kept (a store made before keeps
    them from the version it had then)."""
    first = conn.execute(sa.select(sa.func.min(RegionFiguresRow.valid_from))).scalar_one()
    return first is not None and first <= version


def region_figures(conn: Connection, version: int, regions: Collection[str] | None) -> dict[str, Counts]:
    """The own counts of `regions` (None: every region) in `version`; a region with no
    implementation is missing."""
    t = RegionFiguresRow
    fields = Counts.__struct_fields__
    query = sa.select(t.region, *[getattr(t, f) for f in fields]).where(_in(t, version))
    chunks: Iterable[Any] = [query]
    if regions is not None:
        chunks = [query.where(among) for among in _among(t.region, regions)]
    return {region: Counts(*values) for chunk in chunks for region, *values in conn.execute(chunk)}


def item_figures(
    conn: Connection, version: int, catalog: Catalog, region: str | None
) -> dict[str, tuple[int, int]]:
    """Per item, (implementations, distinct material lists) under `region` (None: the whole
    catalog) in `version`: the kept rows, or the implementations of the region's subtree where
    none are kept (a county or below: `rolled_at`)."""
    key = "" if region is None else region
    if key in rolled_at(catalog.regions):
        f = ItemFiguresRow
        rows = conn.execute(
            sa.select(f.item, f.implementations, f.material_lists).where(f.region == key, _in(f, version))
        )
        return {item: (n, m) for item, n, m in rows}
    t = ImplementationRow
    lists = MaterialLists(catalog.items)
    found: dict[str, tuple[int, set[int]]] = {}
    # a county's subtree (townships, villages) is every code that begins with the county's
    after = key[:-1] + chr(ord(key[-1]) + 1)
    subtree = sa.and_(t.region >= key, t.region < after)
    for (body,) in conn.execute(sa.select(t.body).where(subtree, _in(t, version))):
        row = figures_of(body)
        listed = lists.of(row.item, bytes(row.materials))
        if listed is None:
            continue
        n, kinds = found.get(row.item, (0, set()))
        kinds.add(listed)
        found[row.item] = (n + 1, kinds)
    return {item: (n, len(kinds)) for item, (n, kinds) in found.items()}
