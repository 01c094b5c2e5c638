"""A worker past `LOCAL_IN_VIEW` holds the regions down to the county and no service point, yet
answers a village's workflow exactly as a worker holding everything: the chain below the
county read by key, the service points along it by where they stand."""

from __future__ import annotations

import asyncio

import msgspec
from litestar.stores.memory import MemoryStore

from api.services.workflows import WorkflowService
from api.view import Views
from catalog.store import Store
from tests.catalog.test_levels import TOWN, VILLAGE, five_level_records
from tests.catalog.test_rules import E1, write

CHAIN = [VILLAGE, TOWN, "640104", "640100", "640000", "000000"]


def _documents(store: Store, local_in_view: int) -> tuple[Views, list[bytes]]:
    views = Views(store, local_in_view=local_in_view)
    service = WorkflowService(views, MemoryStore())

    async def run() -> list[bytes]:
        out = []
        for region in (VILLAGE, TOWN, "640104"):
            out.append((await service.adhoc_workflow([E1], region)).body)
            for bundle in sorted(store.bundles(), key=lambda b: b.bundle.id):
                out.append((await service.workflow(bundle.bundle.id, region)).body)
        return out

    return views, asyncio.run(run())


def test_a_village_workflow_without_holding_villages_or_points(db_url, tmp_path):
    store = Store(db_url)
    store.publish_file(write(tmp_path / "v1.jsonl", five_level_records()))
    lean, read = _documents(store, local_in_view=0)
    whole, held = _documents(store, local_in_view=1000)
    assert read == held
    flow = msgspec.json.decode(read[0])
    assert [p["id"] for p in flow["service_points"]] == ["640104001-center"]
    view = lean._view
    catalog = view.require()
    assert not view.whole and whole._view.whole
    assert VILLAGE not in catalog.regions and catalog.service_points == {}
    assert view.path(VILLAGE) == CHAIN and view.knows(VILLAGE)
    assert not view.knows("640104001999") and view.path("640104001999") == []
    held = asyncio.run(lean.summary(view))
    assert held == asyncio.run(whole.summary(whole._view))  # counts the regions it does not hold
    assert held is not None and held.regions == len(catalog.regions) + 2
    store.dispose()


def test_a_partial_submission_keeps_the_small_records_a_view_read(db_url, tmp_path):
    """A township's submission writes implementations only: the next view takes the small
    records of the one before instead of reading them again, and serves the new rows."""
    records = five_level_records()
    store = Store(db_url)
    store.publish_file(write(tmp_path / "v1.jsonl", records))
    views = Views(store, local_in_view=0)
    service = WorkflowService(views, MemoryStore())
    first = asyncio.run(views.snapshot())
    village = next(r for r in records if r.get("kind") == "implementation" and r["region"] == VILLAGE)
    village["window"] = "社区便民服务站全科窗口"
    own = [r for r in records if r.get("kind") == "implementation" and r["region"].startswith(TOWN)]
    store.publish_file(write(tmp_path / "town.jsonl", [records[0], *own]), region=TOWN)
    second = asyncio.run(views.snapshot())
    assert second.version == 2 and second.require().regions is first.require().regions
    body = asyncio.run(service.adhoc_workflow([E1], VILLAGE)).body
    assert "社区便民服务站全科窗口".encode() in body
    store.publish_file(write(tmp_path / "v3.jsonl", records))  # a whole catalog: read again
    third = asyncio.run(views.snapshot())
    assert third.version == 3 and third.require().regions is not first.require().regions
    assert third.require().regions == first.require().regions
    store.dispose()
