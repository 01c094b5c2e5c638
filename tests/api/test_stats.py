"""Statistics (`onething stats`, `GET /stats`, `/pages/stats`) against counts worked out by hand.

Two items (statutory 20 days each), five implementations:

| impl | item | region | depth | visits | promised | materials | window |
|---|---|---|---|---|---|---|---|
| A | 1 | 640104 | 4 | 0 | 0 | as the item | none |
| B | 1 | 640105 | 3 | 1 | 5 | narrowed to id-card | 西夏区 |
| C | 1 | 640202 | 4 | 2 | 10 | as the item | 大武口区 |
| D | 2 | 640100 | 4 | 1 | 0 | as the item | 银川市 |
| E | 2 | 640000 | 2 | 0 | 3 | as the item | 宁夏 |

Bundle `kid` (items 1, 2; everywhere): item 1 resolves only in 640104 (A+D), 640105 (B+D) and
640202 (C+E). 640104 passes everything (A has no window); 640105 has two windows; 640202 two
windows and 2 visits. Bundle `local` (石嘴山 640200 and below): composes only in 640202.
"""

from __future__ import annotations

import json
import subprocess
import sys

import msgspec

from api.settings import Settings
from tests.bundler.build import Builder, req

from .conftest import running


def hand_catalog():
    b = Builder()
    b.material("id-card", "居民身份证")
    b.material("passport", "护照")
    b.material("household-book", "户口簿")
    one = b.item(1, req("identity", "id-card", "passport"), name="事项一")
    two = b.item(2, req("book", "household-book"), name="事项二")

    def impl(item, region, depth, visits, days, **kw):
        made = b.implement(item, region, promised_days=days, visits=visits, **kw)
        b.catalog.implementations[made.code] = msgspec.structs.replace(made, online_depth=depth)

    impl(one, "640104", 4, 0, 0, window="")
    impl(one, "640105", 3, 1, 5, materials=[req("identity", "id-card")])
    impl(one, "640202", 4, 2, 10)
    impl(two, "640100", 4, 1, 0)
    impl(two, "640000", 2, 0, 3)
    b.bundle("kid", one, two)
    b.bundle("local", one, two, regions=["640200"])
    return b.catalog


def counts(implementations, online, one_visit, no_visit, at_once, promised):
    return {
        "implementations": implementations,
        "fully_online": online,
        "at_most_one_visit": one_visit,
        "no_visit": no_visit,
        "at_once": at_once,
        "promised_days": promised,
        "statutory_days": 20 * implementations,
        "mobile": 0,  # revision 3: no implementation of the hand catalog states the app channel
    }


CHECKS_PASSED = {"ONE_VISIT": 2, "ONE_WINDOW": 1, "ONE_FORM": 4, "PROOF": 4, "TARGET_DAYS": 4, "OFFERED": 4}


def check_all(body: dict) -> None:
    regions = {r["region"]: r for r in body["regions"]}
    assert list(regions) == sorted(regions) and len(regions) == 7
    assert regions["640104"]["own"] == counts(1, 1, 1, 1, 1, 0)
    assert regions["640100"]["own"] == counts(1, 1, 1, 0, 1, 0)
    assert regions["640100"]["total"] == counts(3, 2, 3, 1, 2, 5)
    assert regions["640200"]["total"] == counts(1, 1, 0, 0, 0, 10)
    assert regions["640000"]["total"] == counts(5, 3, 4, 2, 2, 18)
    assert regions["000000"]["own"] == counts(0, 0, 0, 0, 0, 0)
    assert regions["000000"]["total"] == regions["640000"]["total"]
    items = [(i["item"], i["implementations"], i["material_lists"]) for i in body["items"]]
    assert items == [("000100001000", 3, 2), ("000100002000", 2, 1)]
    bundles = {b["bundle"]: b for b in body["bundles"]}
    assert (bundles["kid"]["offered"], bundles["kid"]["composed"], bundles["kid"]["passing"]) == (7, 3, 1)
    assert bundles["kid"]["passed"]["ONE_VISIT"] == 2 and bundles["kid"]["passed"]["ONE_WINDOW"] == 1
    assert (bundles["local"]["offered"], bundles["local"]["composed"], bundles["local"]["passing"]) == (
        2,
        1,
        0,
    )
    assert {c["check"]: (c["passed"], c["of"]) for c in body["checks"]} == {
        c: (n, 4) for c, n in CHECKS_PASSED.items()
    }


def test_stats_match_the_hand_counts(db_url, tmp_path):
    with running(Settings(db_url=db_url, token_ttl=0), hand_catalog()) as api:
        r = api.get("/stats")
        assert r.status_code == 200, r.text
        check_all(r.json())

        within = api.get("/stats?region=640100").json()
        assert [r["region"] for r in within["regions"]] == ["640100", "640104", "640105"]
        assert [(i["item"], i["implementations"], i["material_lists"]) for i in within["items"]] == [
            ("000100001000", 2, 2),
            ("000100002000", 1, 1),
        ]
        kid, local = within["bundles"]
        assert (kid["offered"], kid["composed"], kid["passing"]) == (3, 2, 1)
        assert (local["offered"], local["composed"]) == (0, 0)
        assert api.get("/stats?region=999999").status_code == 422
        assert api.get("/stats", role=None).status_code == 401

    done = subprocess.run(
        [sys.executable, "-m", "onething.cli", "stats", "--db", db_url, "--json"],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""  # not a terminal: no progress
    check_all(json.loads(done.stdout))
    # A region's figures read only its subtree (through the region index): the same as the API's.
    mine = subprocess.run(
        [sys.executable, "-m", "onething.cli", "stats", "--db", db_url, "--region", "640100", "--json"],
        capture_output=True,
        check=False,
    )
    assert mine.returncode == 0, mine.stderr
    assert json.loads(mine.stdout) == within


def test_the_stats_page_draws_the_shares(sqlite_url):
    with running(Settings(db_url=sqlite_url, token_ttl=0), hand_catalog()) as api:
        api.sign_in("portal", "/pages/stats")
        page = api.client.get("/pages/stats?region=640100")
        assert page.status_code == 200, page.text
        html = page.text
        # 全程网办 in 银川市 (A, D of A, B, D) and in 兴庆区 (A)
        assert 'data-label="银川市（合计）" data-value="0.6667"' in html
        assert 'data-label="兴庆区" data-value="1.0000"' in html
        assert '<tr data-item="000100001000">' in html
        assert 'href="/pages/stats/export?format=cpsv-ap"' in html
        ld = api.client.get("/pages/stats/export?format=cpsv-ap")  # with the page session
        assert ld.status_code == 200 and ld.headers["content-type"].startswith("application/ld+json")
        assert "catalog-1.jsonld" in ld.headers["content-disposition"]
        assert ld.content == api.get("/catalog?format=cpsv-ap").content
