"""Past `LOCAL_IN_VIEW` a view holds the regions down to the county and no service point; what
reads the tree beyond one applicant's chain — the bundle checks, the statistics, the places
page, the guide page — reads the townships, villages and points of a subtree by code range and
answers exactly as a view holding everything. A small generated five-level catalog, a lean
view (`local_in_view` 0) against a whole one, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from api.services.checks import ChecksService
from api.services.stats import StatsService
from api.settings import Settings
from api.view import View, Views
from catalog.store import Store
from fixtures.generate import generate

from .conftest import Api, running


@dataclass
class Both:
    store: Store
    lean: View
    whole: View
    township: str
    """A township with villages under it, of a county where some bundle is offered."""
    county: str
    province: str


@pytest.fixture
def both(db_url: str, tmp_path: Path) -> Iterator[Both]:
    out = io.BytesIO()
    generate(out, 3000, seed=3, levels=5)
    path = tmp_path / "five.jsonl"
    path.write_bytes(out.getvalue())
    store = Store(db_url)
    store.publish_file(path, by="test")
    lean = asyncio.run(Views(store, local_in_view=0).snapshot())
    whole = asyncio.run(Views(store, local_in_view=10**6).snapshot())
    assert not lean.whole and whole.whole
    regions = whole.require().regions
    township = next(c for c in sorted(regions) if regions[c].level == "township" and c + "001" in regions)
    county = township[:6]
    yield Both(store, lean, whole, township, county, county[:2] + "0000")
    store.dispose()


def _builtins(value: object) -> object:
    return msgspec.to_builtins(value)


async def _run(fn, *args):
    import anyio.to_thread

    return await anyio.to_thread.run_sync(fn, *args)


def test_a_lean_views_subtree_is_read_by_code_range(both: Both) -> None:
    for root in (None, both.province, both.county, both.township, both.township + "001"):
        assert both.lean.within(root) == both.whole.within(root), root
    regions, points = both.lean.within(both.county)
    assert both.township in regions and both.township + "001" in regions
    assert {len(p.region) for p in points.values()} == {9, 12}  # townships' centres, villages' stations
    assert both.lean.within("640104999") == ({}, {})


def test_bundle_checks_in_a_lean_view_see_townships_villages_and_their_points(both: Both) -> None:
    def answers(view: View) -> object:
        service = ChecksService(both.store, _run)

        async def run() -> object:
            catalog = view.require()
            rows = {b: await service.rows(view, b) for b in sorted(catalog.bundles)}
            report = await service.report(view, region=both.township)
            here = await service.here(view, both.township + "001")
            county = await service.here(view, both.county)
            draft = await service.coverage(view, next(iter(catalog.bundles.values())).items)
            return _builtins((rows, report, here, county, draft))

        return asyncio.run(run())

    lean, whole = answers(both.lean), answers(both.whole)
    assert lean == whole
    rows, report, *_ = whole
    assert any(len(r["region"]) == 12 for bundle_rows in rows.values() for r in bundle_rows)
    assert report["total"] > 0


def test_store_figures_of_a_lean_catalog_count_townships_and_villages(both: Both) -> None:
    version = both.lean.version
    for region in (None, both.province, both.county, both.township):
        whole = both.store.figures(version, both.whole.require(), region)
        lean = both.store.figures(version, both.lean.require(), region, whole=False)
        assert whole is not None and _builtins(lean) == _builtins(whole), region
    county = both.store.figures(version, both.lean.require(), both.county, whole=False)
    assert county is not None
    levels = {level.level: level for level in county.levels}
    assert levels["township"].regions > 0 and levels["village"].service_points > 0


def test_the_statistics_report_of_a_lean_view(both: Both) -> None:
    def report(view: View, region: str | None) -> object:
        service = StatsService(both.store, ChecksService(both.store, _run))
        return _builtins(asyncio.run(service.report(view, region)))

    for region in (None, both.county, both.township):
        assert report(both.lean, region) == report(both.whole, region), region


def _points(html: str, table: str) -> list[str]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0] if f'id="{table}"' in html else ""
    return re.findall(r'data-point="([^"]+)"', body)


@pytest.fixture
def apps(db_url: str, tmp_path: Path) -> Iterator[tuple[Api, Api]]:
    out = io.BytesIO()
    generate(out, 3000, seed=3, levels=5)
    path = tmp_path / "five.jsonl"
    path.write_bytes(out.getvalue())
    with running(Settings(db_url=db_url, token_ttl=0, local_in_view=0)) as lean:
        lean.store.publish_file(path, by="test")
        with running(Settings(db_url=db_url, token_ttl=0), tokens=lean.tokens) as whole:
            yield lean, whole


def test_pages_of_a_lean_view_show_townships_villages_and_their_points(apps: tuple[Api, Api]) -> None:
    lean, whole = apps
    catalog = whole.store.catalog()
    assert catalog is not None
    township = next(
        c
        for c in sorted(catalog.regions)
        if catalog.regions[c].level == "township" and c + "001" in catalog.regions
    )
    for code in (township[:6], township, township + "001"):
        url = f"/pages/regions/{code}/service-points"
        pages = [api.get(url, role=None) for api in (lean, whole)]
        assert [p.status_code for p in pages] == [200, 200], code
        for table in ("reach", "under"):
            assert _points(pages[0].text, table) == _points(pages[1].text, table), (code, table)
        if code == township[:6]:
            assert any(p.startswith(township) for p in _points(pages[0].text, "under"))
    assert _points(pages[0].text, "reach")[0].startswith(township + "001")  # the village's own first
    # The guide for a village: its 到哪里办, as a view holding everything renders it.
    shown = 0
    for bundle in sorted(catalog.bundles):
        url = f"/pages/bundles/{bundle}/guide?region={township}001"
        pages = [api.get(url, role=None) for api in (lean, whole)]
        assert pages[0].status_code == pages[1].status_code, bundle
        where = [p.text.split('id="h-where"', 1)[-1].split("<h2", 1)[0] for p in pages]
        assert where[0] == where[1], bundle
        shown += pages[0].status_code == 200 and 'id="h-where"' in pages[0].text
    assert shown
