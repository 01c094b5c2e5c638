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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from api.services.checks import ChecksService
from api.services.stats import StatsService
from api.settings import Settings
from api.view import View, Views
from catalog.store import Store
from catalog.store.cases import Sealer
from fixtures.generate import generate
from tests.catalog.test_levels import TOWN, VILLAGE, five_level_records
from tests.catalog.test_rules import write
from tests.conftest import NINGXIA

from .case_helpers import Clock, newborn
from .conftest import Api, running
from .test_lifecycle import NDJSON


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
    """Within a county or below, a lean view's checks are a whole one's; above, its rows stop at
    the county (half a million villages are no report's rows) and are the whole view's there."""

    def answers(view: View) -> object:
        service = ChecksService(both.store, _run)

        async def run() -> object:
            catalog = view.require()
            rows = {b: await service.rows(view, b) for b in sorted(catalog.bundles)}
            report = await service.report(view, region=both.township)
            county = await service.report(view, region=both.county)
            here = await service.here(view, both.township + "001")
            there = await service.here(view, both.county)
            draft = await service.coverage(view, next(iter(catalog.bundles.values())).items)
            return _builtins((rows, report, county, here, there, draft))

        return asyncio.run(run())

    def held(rows: list) -> list:
        return [r for r in rows if len(r["region"]) <= 6]

    (rows, *same, draft), (all_rows, *whole_same, all_draft) = answers(both.lean), answers(both.whole)
    assert same == whole_same
    assert rows == {b: held(r) for b, r in all_rows.items()}
    assert draft == held(all_draft)
    assert any(len(r["region"]) == 12 for bundle_rows in all_rows.values() for r in bundle_rows)
    report, county = same[0], same[1]
    assert report["total"] > 0
    assert {len(r["region"]) for r in county["rows"]} == {6, 9, 12}


def test_a_lean_views_report_names_a_bundle_offered_in_a_township(both: Both) -> None:
    """A bundle offered in one township only: the report above the county still lists it there."""
    service = ChecksService(both.store, _run)
    catalog = both.lean.require()
    bundle = next(iter(catalog.bundles.values()))
    township = msgspec.structs.replace(bundle, regions=[both.township])
    view = both.lean.with_bundles(
        [
            msgspec.structs.replace(sb, bundle=township) if sb.bundle.id == bundle.id else sb
            for sb in both.store.bundles()
        ],
        both.lean.bundle_rev + 1,
    )
    rows = asyncio.run(service.rows(view, bundle.id))
    assert rows and {r.region[:9] for r in rows} == {both.township}
    assert asyncio.run(service.report(view, bundle=bundle.id, region=both.province)).total == len(rows)


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

    for region in (both.county, both.township):
        assert report(both.lean, region) == report(both.whole, region), region
    lean, whole = report(both.lean, None), report(both.whole, None)
    assert isinstance(lean, dict) and isinstance(whole, dict)
    assert lean["regions"] == whole["regions"] and lean["items"] == whole["items"]
    # the bundles' coverage above the county counts the regions down to the county
    offered = [(a["offered"], b["offered"]) for a, b in zip(lean["bundles"], whole["bundles"], strict=True)]
    assert all(0 < held < every for held, every in offered), offered


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


def _township(api: Api) -> str:
    catalog = api.store.catalog()
    assert catalog is not None
    regions = catalog.regions
    return next(c for c in sorted(regions) if regions[c].level == "township" and c + "001" in regions)


def _pages(api: Api, query: str, pages: int) -> list[object]:
    """Up to `pages` pages of `GET /regions?{query}`, each following the last one's `next`."""
    out: list[object] = []
    after = ""
    for _ in range(pages):
        r = api.get(f"/regions?{query}{after}")
        assert r.status_code == 200, r.text
        out.append(r.json())
        if r.json()["next"] is None:
            break
        after = f"&after={r.json()['next']}"
    return out


def test_regions_of_a_lean_view_down_to_the_village(apps: tuple[Api, Api]) -> None:
    lean, whole = apps
    township = _township(whole)
    county, village = township[:6], township + "001"
    for code in (county[:2] + "0000", county, township, village, township + "999", "999999"):
        for url in (f"/regions/{code}", f"/regions/{code}/items?limit=1000"):
            answers = [api.get(url) for api in (lean, whole)]
            assert [a.status_code for a in answers] == [answers[1].status_code] * 2, url
            assert answers[0].json() == answers[1].json(), url
    one = lean.get(f"/regions/{township}").json()
    assert one["path"][:2] == [township, county] and village in one["children"]
    assert township in lean.get(f"/regions/{county}").json()["children"]
    assert lean.get(f"/regions/{village}/items").json()["total"] > 0
    queries = {
        "level=township&limit=100": 3,
        "level=village&limit=100": 3,
        f"level=village&limit=50&after={township}": 2,
        "limit=40": 3,
        "level=county&limit=5": 4,
        f"parent={county}&limit=10": 5,
        f"parent={township}": 1,
        f"parent={county}&level=village": 1,
    }
    for query, pages in queries.items():
        assert _pages(lean, query, pages) == _pages(whole, query, pages), query
    first = _pages(lean, "level=village&limit=100", 1)[0]
    assert isinstance(first, dict) and first["total"] > 1000 and first["regions"][0]["level"] == "village"
    counted = _pages(lean, "level=township&limit=100", 1)[0]
    assert isinstance(counted, dict) and any(r["children"] for r in counted["regions"])


@contextmanager
def _pair(db_url: str, path: Path) -> Iterator[tuple[Api, Api]]:
    """A lean app and a whole one on the same store, the catalog at `path` published."""
    with running(Settings(db_url=db_url, token_ttl=0, local_in_view=0)) as lean:
        lean.store.publish_file(path, by="test")
        with running(Settings(db_url=db_url, token_ttl=0), tokens=lean.tokens) as whole:
            yield lean, whole


def test_a_village_applicant_hands_in_a_case_to_a_lean_view(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONETHING_CASE_KEY", Sealer.new_key())
    town, village = "640104001", "640104001002"  # the fixture's 凤凰北街街道 and 崇安社区
    with _pair(db_url, NINGXIA) as (lean, whole):
        for api in (lean, whole):
            api.client.app.state.cases.clock = Clock()
        cases = [api.post("/cases", role=None, json=newborn(region=village)) for api in (lean, whole)]
        assert [c.status_code for c in cases] == [201, 201], cases[0].text
        tasks = [[(t["item"], t["agency"], t["stage"], t["due"]) for t in c.json()["tasks"]] for c in cases]
        assert tasks[0] == tasks[1] and tasks[0]
        assert cases[0].json()["region"] == village
        unknown = [api.post("/cases", role=None, json=newborn(region=town + "999")) for api in (lean, whole)]
        assert [u.status_code for u in unknown] == [422, 422]
        assert unknown[0].json() == unknown[1].json()


def test_a_township_clerk_submits_its_list_to_a_lean_view(db_url: str, tmp_path: Path) -> None:
    records = five_level_records()
    path = write(tmp_path / "v1.jsonl", records)
    own = [r for r in records if r.get("kind") == "implementation" and r["region"].startswith(TOWN)]
    own[0] = {**own[0], "promised_days": 1}
    body = write(tmp_path / "town.jsonl", [records[0], *own]).read_bytes()
    with _pair(db_url, path) as (lean, whole):
        tokens = []
        for name, region in (("镇", TOWN), ("村", VILLAGE), ("县", "640104"), ("邻县", "649001")):
            made = [
                api.post(
                    "/tokens",
                    role="admin",
                    json={"name": f"{name}-{i}", "role": "reviewer", "region": region},
                )
                for i, api in enumerate((lean, whole))
            ]
            assert [m.status_code for m in made] == [201, 201], made[0].text
            tokens.append({"Authorization": f"Bearer {made[0].json()['token']}", **NDJSON})
        no = [
            api.post("/tokens", role="admin", json={"name": "x", "role": "reviewer", "region": TOWN + "999"})
            for api in (lean, whole)
        ]
        assert [n.status_code for n in no] == [422, 422]
        town, village, county, other = tokens

        def submit(api: Api, who: dict[str, str], region: str) -> tuple[int, object]:
            r = api.client.post(f"/submissions?region={region}", headers=who, content=body)
            answer = r.json()
            for moving in ("id", "submitted_at", "by"):
                answer.pop(moving, None)
            return r.status_code, answer

        for who, region, status in (
            (town, TOWN, 201),
            (county, TOWN, 201),
            (village, TOWN, 403),
            (other, TOWN, 403),
        ):
            assert submit(lean, who, region) == submit(whole, who, region), (region, status)
            assert submit(lean, who, region)[0] == status
        assert submit(lean, town, VILLAGE)[0] == 201  # a village's list, inside the township
        assert submit(lean, town, TOWN + "999") == submit(whole, town, TOWN + "999")
        listed = [api.client.get("/submissions", headers=town).json() for api in (lean, whole)]
        assert listed[0] == listed[1] and listed[0]["total"] > 0
        assert {s["region"] for s in listed[0]["submissions"]} <= {TOWN, VILLAGE}
        r = lean.client.put(f"/regions/{TOWN}/implementations", headers=town, content=body)
        assert r.status_code == 200, r.text
        assert lean.store.revision() == 2


def test_the_validation_report_of_a_lean_view_by_township_and_village(apps: tuple[Api, Api]) -> None:
    lean, whole = apps
    township = _township(whole)
    for region in (township[:6], township, township + "001", township + "999"):
        url = f"/validation?region={region}&limit=1000"
        answers = [api.get(url, role="reviewer") for api in (lean, whole)]
        assert [a.status_code for a in answers] == [answers[1].status_code] * 2, region
        assert answers[0].json() == answers[1].json(), region
    report = lean.get(f"/validation?region={township}", role="reviewer").json()
    rows = report["conformity"]
    regions = [r["region"] for r in (rows if isinstance(rows, list) else rows.get("regions", []))]
    assert regions and all(r.startswith(township) for r in regions), rows
    assert all(f["region"] is None or f["region"].startswith(township) for f in report["findings"])


def test_the_clerks_case_form_for_a_village_of_a_lean_view(db_url: str) -> None:
    village = "640104001002"  # 崇安社区
    with _pair(db_url, NINGXIA) as (lean, whole):
        url = f"/pages/cases/new?bundle=newborn&region={village}&answer=wants-social-card:yes"
        pages = []
        for api in (lean, whole):
            api.sign_in("portal", next=url)
            pages.append(api.client.get(url))
        assert [p.status_code for p in pages] == [200, 200], pages[0].text[:500]
        fields = [sorted(re.findall(r'data-field="([^"]+)"', p.text)) for p in pages]
        assert fields[0] == fields[1] and "child.birth_date" in fields[0]
        assert re.search(rf'<option value="{village}"[^>]*selected', pages[0].text), "the village is chosen"
        assert len(re.findall(r"<option value=\"\d{12}\"", pages[0].text)) == 1  # not every village


def test_the_region_page_of_a_lean_view_for_a_township_and_a_village(apps: tuple[Api, Api]) -> None:
    lean, whole = apps
    township = _township(whole)

    def parts(html: str) -> tuple[object, ...]:
        crumbs = html.split('class="crumbs">', 1)[1].split("</div>", 1)[0]
        below = re.findall(r"下级区划：(.*?)</p>", html)
        items = html.split('id="effective-items"', 1)[1].split("</table>", 1)[0]
        return crumbs, below, items, 'id="places-link"' in html

    for code in (township[:6], township, township + "001"):
        pages = [api.get(f"/pages/regions/{code}", role=None) for api in (lean, whole)]
        assert [p.status_code for p in pages] == [200, 200], code
        assert parts(pages[0].text) == parts(pages[1].text), code
    village = parts(lean.get(f"/pages/regions/{township}001", role=None).text)
    assert f'href="/pages/regions/{township}"' in str(village[0]) and village[3]
    assert f"/pages/regions/{township}001" in str(
        parts(lean.get(f"/pages/regions/{township}", role=None).text)[1]
    )
    assert lean.get(f"/pages/regions/{township}999", role=None).status_code == 404


def test_the_region_trees_counts_of_a_lean_view_are_its_held_regions(both: Both) -> None:
    from api.services.reads import ReadsService

    reads = ReadsService(both.store)
    lean = asyncio.run(reads.conformity(both.lean))
    whole = asyncio.run(reads.conformity(both.whole))
    held = both.lean.require().regions
    assert lean == [c for c in whole if c.region in held] and lean
    assert len(whole) > len(lean)  # the townships' and villages' rows are left in the store


def test_an_items_implementations_in_villages_named_by_a_lean_view(apps: tuple[Api, Api]) -> None:
    lean, whole = apps
    township = _township(whole)
    effective = whole.get(f"/regions/{township}001/items?limit=1000").json()["items"]
    local = sorted({e["item"] for e in effective if len(e["region"]) > 6})
    assert local
    for item in local[:3]:
        pages = [api.get(f"/items/{item}?limit=1000") for api in (lean, whole)]
        assert [p.status_code for p in pages] == [200, 200], item
        assert pages[0].json() == pages[1].json(), item
        levels = {i["level"] for i in pages[0].json()["implementations"]}
        assert levels & {"township", "village"}, levels


def test_a_township_designer_offers_a_bundle_in_its_township_on_a_lean_view(db_url: str) -> None:
    """A designer token bound to a township, on the designer page of a view that holds no
    township: its township is the region offered, a bundle offered there saves, one offered in
    the next township does not."""
    from tests.api.pages.test_csrf import sign_in

    town, next_town = "640104001", "640104002"  # 凤凰北街街道, 解放西街街道
    items = ["002002101000", "002002102000"]
    with _pair(db_url, NINGXIA) as (lean, whole):
        for n, api in enumerate((lean, whole)):
            api.tokens["town"] = api.store.create_token(f"镇设计-{n}", "designer", region=town)
            form_token = sign_in(api, "town")
            page = api.client.get("/pages/designer?bundle=newborn")
            assert page.status_code == 200
            assert f'<option value="{town}" selected>' in page.text and "凤凰北街街道" in page.text
            assert 'id="out-of-scope"' in page.text  # newborn is offered everywhere

            form = {"form_token": form_token, "items": items, "name": "镇上的一件事", "description": ""}
            form |= {"version": "", "original": "", "anyway": "1"}
            refused = api.client.post(
                "/pages/designer/save",
                data={**form, "id": f"next-{n}", "offered": next_town},
                follow_redirects=False,
            )
            assert refused.status_code == 422 and "须是凤凰北街街道或其下级区划" in refused.text
            saved = api.client.post(
                "/pages/designer/save",
                data={**form, "id": f"town-{n}", "offered": town},
                follow_redirects=False,
            )
            assert saved.status_code == 303, re.findall(r'class="notice[^"]*"[^>]*>([^<]+)', saved.text)
            stored = api.store.bundle(f"town-{n}")
            assert stored is not None and stored.bundle.regions == [town]
