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
