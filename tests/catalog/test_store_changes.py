"""A publish over a published version reads only what changed; its findings, conformity and
counts must be exactly what validating the whole file gives. Checked on generated catalogs
against the full validator, through a line of versions with every kind of change."""

from __future__ import annotations

import io
import random
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from catalog.load import dump_lines
from catalog.model import Catalog, record_encoder
from catalog.store import Store
from catalog.store.schema import ImplementationRow
from catalog.validate import load_bytes, load_file, validate_file
from fixtures.generate import generate


def write(
    path: Path, catalog: Catalog, *, shuffle: random.Random | None = None, reformat: set[str] = frozenset()
) -> Path:
    lines = list(dump_lines(catalog))
    if shuffle is not None:  # the header stays first; the rest in any order (§1)
        rest = lines[1:]
        shuffle.shuffle(rest)
        lines = [lines[0], *rest]
    out = []
    for line in lines:
        if reformat and b'"implementation"' in line[:30]:
            record = msgspec.json.decode(line)
            if record["code"] in reformat:  # the same record, keys in another order, spaced
                line = msgspec.json.encode(dict(reversed(list(record.items())))).replace(b",", b", ") + b"\n"
        out.append(line)
    path.write_bytes(b"".join(out))
    return path


def assert_same_as_full(store: Store, version: int, path: Path) -> None:
    """What the store says of `version` is what validating `path` whole says."""
    expected = validate_file(path)
    total, stored = store.findings(version, limit=100_000)

    def key(f):
        return (f.rule, f.severity, f.kind, f.key, f.line, f.message)

    assert [key(f) for f in stored] == [key(f) for f in expected.findings]
    assert total == len(expected.findings)
    assert store.conformity(version) == expected.conformity
    catalog, _ = load_file(path)
    counts: dict[str, int] = {}
    for impl in catalog.implementations.values():
        counts[impl.item] = counts.get(impl.item, 0) + 1
    assert store.item_counts(version) == counts
    held = store.catalog(version)
    assert held is not None
    assert held.implementations == catalog.implementations
    assert held.items == catalog.items and held.regions == catalog.regions


@pytest.fixture(scope="module")
def generated() -> Catalog:
    out = io.BytesIO()
    generate(out, 2500, seed=11)
    catalog, report = load_bytes(out.getvalue())
    assert report.ok
    return catalog


def test_a_line_of_versions_matches_full_validation_every_time(db_url, tmp_path, generated):
    rng = random.Random(5)
    store = Store(db_url)
    v1 = write(tmp_path / "v1.jsonl", generated)
    assert store.publish_file(v1).version == 1
    assert_same_as_full(store, 1, v1)
    codes = sorted(generated.implementations)

    # v2: a few implementations changed, some removed, a few only reformatted, the file shuffled.
    impls = dict(generated.implementations)
    changed = rng.sample(codes, 12)
    for code in changed:
        impls[code] = msgspec.structs.replace(
            impls[code], window=f"窗口{rng.randrange(100)}", promised_days=0
        )
    removed = rng.sample([c for c in codes if c not in changed], 9)
    for code in removed:
        del impls[code]
    reformatted = set(rng.sample([c for c in impls if c not in changed], 5))
    second = msgspec.structs.replace(generated, implementations=impls, lines={})
    v2 = write(tmp_path / "v2.jsonl", second, shuffle=rng, reformat=reformatted)
    published = store.publish_file(v2)
    assert (published.version, published.added, published.changed, published.removed) == (2, 0, 12, 9)
    assert_same_as_full(store, 2, v2)

    # v3: the removed ones come back; a national item is renamed (its implementations break,
    # untouched: flagged) and a region renamed (its implementations are checked again).
    item = rng.choice(sorted({generated.implementations[c].item for c in codes}))
    items = dict(second.items)
    items[item] = msgspec.structs.replace(items[item], name=items[item].name + "（新）")
    region = rng.choice(sorted({i.region for i in impls.values()}))
    regions = dict(second.regions)
    regions[region] = msgspec.structs.replace(regions[region], name=regions[region].name + "区")
    third = msgspec.structs.replace(
        second, implementations=generated.implementations, items=items, regions=regions, lines={}
    )
    v3 = write(tmp_path / "v3.jsonl", third, shuffle=rng)
    published = store.publish_file(v3)
    flagged = sum(1 for i in generated.implementations.values() if i.item == item)
    assert published.version == 3 and published.added == 9 and published.needs_review == flagged > 0
    assert_same_as_full(store, 3, v3)

    # v4: a material added to the dictionary (every implementation is checked again) and the
    # renamed item's implementations brought in line, but one.
    materials = dict(third.materials)
    template = next(iter(materials.values()))
    materials["new-proof"] = msgspec.structs.replace(template, id="new-proof", name="新增证明")
    impls = dict(generated.implementations)
    behind = sorted(c for c, i in impls.items() if i.item == item)
    for code in behind[1:]:
        impls[code] = msgspec.structs.replace(impls[code], name=items[item].name)
    fourth = msgspec.structs.replace(third, materials=materials, implementations=impls, lines={})
    v4 = write(tmp_path / "v4.jsonl", fourth)
    published = store.publish_file(v4)
    assert published.needs_review == 1
    assert_same_as_full(store, 4, v4)

    # Every version still reads as it was published.
    assert store.catalog(2).implementations == second.implementations
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(ImplementationRow)).scalar_one()
    # Only what changed was ever written: v1's rows, 12 changed (v2) and changed back with 9
    # returning (v3), the renamed item's fixes (v4).
    assert rows == len(codes) + 12 + (12 + 9) + len(behind) - 1
    store.dispose()


def test_a_changed_line_that_breaks_is_refused_and_one_only_reformatted_is_not_touched(
    db_url, tmp_path, generated
):
    store = Store(db_url)
    store.publish_file(write(tmp_path / "v1.jsonl", generated))
    code = sorted(generated.implementations)[3]
    impls = dict(generated.implementations)
    impls[code] = msgspec.structs.replace(impls[code], promised_days=impls[code].statutory_days + 1)
    from catalog.store import Refused

    with pytest.raises(Refused) as refused:
        store.publish_file(
            write(tmp_path / "bad.jsonl", msgspec.structs.replace(generated, implementations=impls, lines={}))
        )
    assert {(f.rule, f.key) for f in refused.value.findings} == {("TIME_LIMIT", code)}
    published = store.publish_file(write(tmp_path / "same.jsonl", generated, reformat={code}))
    assert (published.added, published.changed, published.removed) == (0, 0, 0)
    assert store.revision() == 2
    assert record_encoder.encode(store.catalog().implementations[code]) == record_encoder.encode(
        generated.implementations[code]
    )
    store.dispose()


def test_a_regions_submission_gives_what_validating_the_whole_result_gives(db_url, tmp_path, generated):
    from catalog.validate import validate

    rng = random.Random(3)
    store = Store(db_url)
    store.publish_file(write(tmp_path / "v1.jsonl", generated))
    region = rng.choice(
        sorted({i.region for i in generated.implementations.values() if i.region.endswith(("01", "02"))})
    )
    impls = dict(generated.implementations)
    mine = sorted(c for c, i in impls.items() if i.region == region)
    for code in mine[:3]:
        impls[code] = msgspec.structs.replace(impls[code], window="新窗口")
    del impls[mine[-1]]
    lines = [record_encoder.encode(generated.header) + b"\n"]
    lines += [record_encoder.encode(i) + b"\n" for c, i in sorted(impls.items()) if i.region == region]
    path = tmp_path / "partial.jsonl"
    path.write_bytes(b"".join(lines))
    published = store.publish_file(path, region=region)
    assert (published.changed, published.removed) == (3, 1)
    expected = validate(msgspec.structs.replace(generated, implementations=impls, lines={}))
    _, stored = store.findings(2, limit=100_000)
    assert sorted((f.rule, f.kind, f.key, f.message) for f in stored) == sorted(
        (f.rule, f.kind, f.key, f.message) for f in expected.findings
    )
    assert store.conformity(2) == expected.conformity
    store.dispose()


def test_places_over_versions_match_full_validation_and_only_changed_ones_are_written(db_url, tmp_path):
    """At five levels a republish compares regions and service points by their lines' digests:
    what it finds and counts must still be what validating the whole file gives, through renames,
    a new village, a moved point, a township removed from under its villages and an item removed
    from under the points that assist with it."""
    from catalog.store.schema import RecordRow

    out = io.BytesIO()
    generate(out, 3000, seed=4, levels=5)
    first, report = load_bytes(out.getvalue())
    assert report.ok
    rng = random.Random(8)
    store = Store(db_url)
    v1 = write(tmp_path / "v1.jsonl", first)
    store.publish_file(v1)
    villages = sorted(c for c, r in first.regions.items() if r.level == "village")
    township = next(r for r in first.regions.values() if r.level == "township").code
    point = sorted(first.service_points)[5]

    # v2: a village renamed, a village added, a service point renamed; shuffled.
    regions = dict(first.regions)
    renamed = rng.choice(villages)
    regions[renamed] = msgspec.structs.replace(regions[renamed], name=regions[renamed].name + "新村")
    added = township + "999"
    regions[added] = msgspec.structs.replace(regions[renamed], code=added, name="新设村", parent=township)
    points = dict(first.service_points)
    points[point] = msgspec.structs.replace(points[point], name=points[point].name + "（迁址）")
    second = msgspec.structs.replace(first, regions=regions, service_points=points, lines={})
    v2 = write(tmp_path / "v2.jsonl", second, shuffle=rng)
    published = store.publish_file(v2)
    assert (published.added, published.changed, published.removed) == (1, 2, 0)
    assert_same_as_full(store, 2, v2)
    assert store.catalog(2).service_points == second.service_points

    # v3: the township removed, its villages and implementations left (untouched, so flagged),
    # and an item a service point assists with removed, with its implementations.
    assisted = next(p for p in points.values() if p.assists)
    item = assisted.assists[0]
    regions = {c: r for c, r in regions.items() if c != township}
    items = {c: i for c, i in first.items.items() if c != item}
    impls = {c: i for c, i in first.implementations.items() if i.item != item}
    third = msgspec.structs.replace(second, regions=regions, items=items, implementations=impls, lines={})
    v3 = write(tmp_path / "v3.jsonl", third)
    published = store.publish_file(v3)
    assert published.needs_review > 0
    assert_same_as_full(store, 3, v3)
    expected = validate_file(v3)
    assert any(f.kind == "service_point" and f.key == assisted.id for f in expected.findings)
    assert any(f.kind == "region" and f.key.startswith(township) for f in expected.findings)

    with store.engine.connect() as conn:
        written = conn.execute(
            sa.select(sa.func.count()).where(
                RecordRow.kind.in_(("region", "service_point")), RecordRow.valid_from > 1
            )
        ).scalar_one()
    assert written == 3  # v2's renamed village, new village and renamed point; v3 only closed rows
    store.dispose()
