"""Townships, villages and service points read where they are needed, not held: a region's
chain by key, the points along it by where they stand (the index on `catalog_record.region`),
and the dictionaries a worker holds of a five-level catalog."""

from __future__ import annotations

import sqlalchemy as sa

from catalog.store import Store, reads
from catalog.store.migrations import _6_record_region
from catalog.store.publish import writes
from catalog.store.schema import RecordRow

from .test_levels import TOWN, VILLAGE, five_level_records
from .test_rules import write


def _published(db_url: str, tmp_path) -> Store:
    store = Store(db_url)
    store.publish_file(write(tmp_path / "v1.jsonl", five_level_records()))
    return store


def test_a_village_chain_is_read_up_to_the_regions_held(db_url, tmp_path):
    store = _published(db_url, tmp_path)
    held = store.dictionaries(1, local=False).regions
    assert [r.code for r in store.region_chain(1, VILLAGE, held)] == [VILLAGE, TOWN]
    assert [r.code for r in store.region_chain(1, TOWN, held)] == [TOWN]
    assert [r.code for r in store.region_chain(1, VILLAGE)][-1] == "000000"
    assert store.region_chain(1, "640104001999", held) == []
    store.dispose()


def test_service_points_are_found_by_where_they_stand(db_url, tmp_path):
    store = _published(db_url, tmp_path)
    everything = store.dictionaries(1)
    chain = [VILLAGE, TOWN, "640104", "640100", "640000", "000000"]
    found = store.service_points_in(1, chain)
    assert found == everything.service_points  # all three stand on this chain
    assert list(store.service_points_in(1, [TOWN])) == ["640104001-center"]
    assert store.service_points_in(1, ["640105"]) == {}
    store.dispose()


def test_a_worker_holds_regions_down_to_the_county(db_url, tmp_path):
    store = _published(db_url, tmp_path)
    everything, held = store.dictionaries(1), store.dictionaries(1, local=False)
    assert store.local_count(1) == (2, 3)
    assert set(everything.regions) - set(held.regions) == {TOWN, VILLAGE}
    assert held.service_points == {} and held.items == everything.items
    store.dispose()


def test_the_migration_places_records_published_before_it(db_url, tmp_path):
    store = _published(db_url, tmp_path)
    with store.engine.begin() as conn:
        conn.execute(sa.update(RecordRow).values(region=None))
        _6_record_region(conn)
        placed = dict(
            conn.execute(
                sa.select(RecordRow.key, RecordRow.region).where(
                    RecordRow.kind.in_(("region", "service_point"))
                )
            ).all()
        )
    assert placed[VILLAGE] == TOWN and placed["640104001-center"] == TOWN and placed["000000"] is None
    assert store.service_points_in(1, [VILLAGE]).keys() == {"640104001002-station"}
    store.dispose()


def test_small_records_written_in_batches_compare_by_hash(db_url, tmp_path, monkeypatch):
    """Batches of two: the records a version writes stay open while it closes the ones they
    replace, and a changed record's old body is read for the review of what it touched."""
    monkeypatch.setattr(writes, "SMALL_BATCH", 2)
    records = five_level_records()
    store = _published(db_url, tmp_path)
    point = next(r for r in records if r.get("kind") == "service_point" and r["region"] == TOWN)
    point["hours"] = "周一至周六 9:00-17:00"
    records.remove(next(r for r in records if r.get("kind") == "service_point" and r["region"] == VILLAGE))
    again = store.publish_file(write(tmp_path / "v2.jsonl", records))
    assert (again.version, again.changed, again.removed) == (2, 1, 1)
    assert store.service_points_in(2, [TOWN])["640104001-center"].hours == "周一至周六 9:00-17:00"
    assert store.service_points_in(2, [VILLAGE]) == {}
    assert store.service_points_in(1, [VILLAGE]).keys() == {"640104001002-station"}
    assert store.dictionaries(2).regions == store.dictionaries(1).regions
    with store.engine.connect() as conn:
        open_rows = conn.execute(
            sa.select(sa.func.count()).select_from(RecordRow).where(RecordRow.valid_to.is_(None))
        ).scalar_one()
    assert open_rows == len(store.dictionaries(2).records())  # one open row each, the header too
    store.dispose()


def test_a_subtree_and_what_its_submission_is_checked_against(db_url, tmp_path):
    store = _published(db_url, tmp_path)
    with store.engine.connect() as conn:
        assert reads.region_subtree(conn, 1, TOWN) == {TOWN, VILLAGE}
        assert {"640104", TOWN, VILLAGE} <= reads.region_subtree(conn, 1, "640104")
        assert reads.region_subtree(conn, 1, "640000") >= reads.region_subtree(conn, 1, "640104")
        assert reads.region_subtree(conn, 1, "640104001999") == frozenset()
        around = reads.dictionaries_around(conn, 1, TOWN, reads.region_subtree(conn, 1, TOWN))
    everything = store.dictionaries(1)
    assert around.regions == everything.regions  # the fixture's only township and village
    assert around.items == everything.items and around.service_points == {}
    assert around.lines["region"][VILLAGE] == everything.lines["region"][VILLAGE]
    store.dispose()
