"""Statistics' figures written at publish (`catalog.store.figures`) must be what counting every
implementation of the version gives (`catalog.stats.implementation_stats`), for the whole
catalog and any region, after each publish of a changing series: the first, whole files that
add, change and remove implementations and change an item's list, a county's partial
submission, a change to the region tree, a republish — and every earlier version still reads
as it was."""

from __future__ import annotations

from pathlib import Path

import msgspec

from catalog.load import dump_lines
from catalog.model import Catalog, Region
from catalog.stats import implementation_stats
from catalog.store import Store
from catalog.tree import subtree
from catalog.validate import load_file
from fixtures.generate import generate

replace = msgspec.structs.replace


def write(path: Path, catalog: Catalog) -> Path:
    path.write_bytes(b"".join(dump_lines(catalog)))
    return path


def asked(catalog: Catalog) -> list[str | None]:
    """The whole catalog and two regions of each level, the ones with most under them first
    (a county, at five levels, keeps no item rows: its subtree is read)."""
    regions = catalog.regions
    under = {code: 0 for code in regions}
    for impl in catalog.implementations.values():
        code: str | None = impl.region
        while code is not None and code in regions:
            under[code] += 1
            code = regions[code].parent
    out: list[str | None] = [None]
    for level in ("national", "province", "city", "county", "township", "village"):
        at = sorted((code for code, r in regions.items() if r.level == level), key=lambda c: (-under[c], c))
        out.extend(at[:2])
    return out


def assert_recount(store: Store, version: int) -> None:
    catalog = store.dictionaries(version)
    held = store.catalog(version)
    assert held is not None
    for region in asked(held):
        within = None if region is None else subtree(catalog.regions, region)
        expected = implementation_stats(
            catalog.regions,
            catalog.items,
            store.implementations_within(version, within),
            region,
            catalog.service_points,
        )
        stored = store.figures(version, catalog, region)
        assert stored is not None
        assert msgspec.to_builtins(stored) == msgspec.to_builtins(expected), (version, region)


def test_figures_equal_a_recount_after_each_publish(db_url: str, tmp_path: Path) -> None:
    generated = tmp_path / "generated.jsonl"
    with open(generated, "wb") as out:
        generate(out, 3000, seed=3)
    catalog, _ = load_file(generated)
    store = Store(db_url)
    versions: list[int] = []

    def publish(path: Path, **options: object) -> None:
        published = store.publish_file(path, by="test", **options)  # type: ignore[arg-type]
        versions.append(published.version)
        for version in versions:  # the earlier versions read as they were
            assert_recount(store, version)

    publish(write(tmp_path / "v1.jsonl", catalog))

    # Changed figures, a list of its own, the mobile app; some gone, then back.
    codes = sorted(catalog.implementations)
    impls = dict(catalog.implementations)
    for n, code in enumerate(codes[::37]):
        impl = impls[code]
        impls[code] = replace(
            impl,
            promised_days=0 if n % 2 else max(impl.promised_days - 1, 0),
            online_depth=4,
            visits=0,
            channels=["window", "online", "app"] if n % 3 else None,
            materials=catalog.items[impl.item].materials[: 1 + n % 3] if n % 5 == 0 else impl.materials,
        )
    # One item's implementations: half keep its list (none of their own), half narrow it to its
    # first requirement — two lists, until the item itself narrows to that one.
    item_code = max(catalog.items, key=lambda k: sum(1 for i in impls.values() if i.item == k))
    item = catalog.items[item_code]
    for n, code in enumerate(sorted(c for c, i in impls.items() if i.item == item_code)):
        impls[code] = replace(impls[code], materials=None if n % 2 else item.materials[:1])
    gone = codes[5::53]
    second = replace(catalog, implementations={c: i for c, i in impls.items() if c not in gone})
    publish(write(tmp_path / "v2.jsonl", second))

    # Back again, and an item's own list changed (its implementations without a list follow).
    items = {**catalog.items, item_code: replace(item, materials=item.materials[:1])}
    third = replace(catalog, implementations=impls, items=items)
    publish(write(tmp_path / "v3.jsonl", third))

    # A county's partial submission: some of its rows changed, some left out.
    county = max(
        (c for c, r in catalog.regions.items() if r.level == "county"),
        key=lambda c: sum(1 for i in impls.values() if i.region == c),
    )
    own = sorted(code for code, i in impls.items() if i.region == county)
    partial = {code: impls[code] for code in own[3:]}
    for code in own[3:10]:
        partial[code] = replace(partial[code], promised_days=0, channels=["app"])
    fourth = Catalog(header=catalog.header, implementations=partial)
    publish(write(tmp_path / "county.jsonl", fourth), region=county)

    # The region tree grows: a county under a city, with no implementation yet.
    city = next(code for code, r in sorted(catalog.regions.items()) if r.level == "city")
    regions = {**catalog.regions, f"{city[:4]}99": Region(f"{city[:4]}99", "新设县", "county", city)}
    held = store.catalog(versions[-1])
    assert held is not None
    publish(write(tmp_path / "v5.jsonl", replace(held, regions=regions)))

    store.republish(1, by="test")
    versions.append(store.revision())
    for version in versions:
        assert_recount(store, version)
    store.dispose()


def test_five_levels_figures_equal_a_recount(db_url: str, tmp_path: Path) -> None:
    """Townships and villages under the counties: the first publish's tally (its validation in
    a process of its own: the file is past `APART_FROM`), then a village's implementations
    changed — the county above it, which keeps no item rows, reads its whole subtree."""
    from catalog.apart import APART_FROM

    generated = tmp_path / "five.jsonl"
    with open(generated, "wb") as out:
        generate(out, 20_000, seed=5, levels=5)
    assert generated.stat().st_size >= APART_FROM
    catalog, _ = load_file(generated)
    store = Store(db_url)
    store.publish_file(generated, by="test")
    assert_recount(store, 1)
    village = next(i.region for i in catalog.implementations.values() if len(i.region) == 12)
    impls = dict(catalog.implementations)
    for code, impl in impls.items():
        if impl.region == village:
            item = catalog.items[impl.item]
            impls[code] = replace(impl, promised_days=0, channels=["app"], materials=item.materials[:1])
    store.publish_file(write(tmp_path / "v2.jsonl", replace(catalog, implementations=impls)), by="test")
    assert_recount(store, 1)
    assert_recount(store, 2)
    store.dispose()


def test_a_store_made_before_figures_counts_its_newest_version(sqlite_url: str, tmp_path: Path) -> None:
    """Migration 5 counts the newest version of a store that has one; an earlier version has
    no figures (`Store.figures` says so: the statistics count its implementations)."""
    import sqlalchemy as sa

    from catalog.store.migrations import _7_figures
    from catalog.store.schema import ItemFiguresRow, RegionFiguresRow, SchemaMigrationRow

    catalog, _ = load_file(Path(__file__).parents[2] / "fixtures" / "ningxia.jsonl")
    store = Store(sqlite_url)
    store.publish_file(write(tmp_path / "v1.jsonl", catalog), by="test")
    first = min(catalog.implementations)
    impls = {**catalog.implementations, first: replace(catalog.implementations[first], promised_days=0)}
    store.publish_file(write(tmp_path / "v2.jsonl", replace(catalog, implementations=impls)), by="test")
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:  # as a store made before figures were kept
        ItemFiguresRow.__table__.drop(conn)
        RegionFiguresRow.__table__.drop(conn)
        conn.execute(sa.delete(SchemaMigrationRow).where(SchemaMigrationRow.number == 5))
    with engine.begin() as conn:
        _7_figures(conn)
    engine.dispose()
    assert store.figures(1, store.dictionaries(1), None) is None
    assert_recount(store, 2)
    store.dispose()
