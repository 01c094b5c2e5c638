"""The digitisation advisor (`bundler.advisor`, `onething advise`, `GET /advice`, its page)
against figures worked out by hand.

Items: 1 (identity: 居民身份证 — an e-license; book: 户口簿; photo: 照片), 2 (book: 户口簿; proof:
证明X), 3 (book), 4 (book). Implementations: 1 and 2 by 银川市 640100; 1 by 石嘴山市 640200; 2 by
大武口区 640202 narrowed to the proof alone; 3 and 4 by 宁夏 640000.

| bundle | case (regions) | minimum | saved by 户口簿 / 证明X / 照片 |
|---|---|---|---|
| b (1, 2) | 640100, 640104, 640105 | 户口簿 证明X 照片 | 1 / 1 / 1, ×3 |
| b | 640202 | 户口簿 证明X 照片 | 1 / 1 / 1, ×1 |
| c (2, 3) | 640100, 640104, 640105 | 户口簿 证明X | 1 / 1 / –, ×3 |
| c | 640202 | 证明X 户口簿 | 1 / 1 / –, ×1 |
| d (3, 4) | 640000 and the five under it | 户口簿 | 1 (nothing left) / – / –, ×6 |

000000, 640000 (b, c) and 640200 (b, c) cannot compose. So 户口簿 saves 4+4+6 = 14 materials in
14 cases, 6 of them left with nothing to hand in; 证明X 8 in 8; 照片 4 in 4; 14 cases, 5 distinct.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

from api.settings import Settings
from bundler.advisor import advise
from tests.bundler.build import Builder, req

from .conftest import running


def hand_catalog():
    b = Builder()
    b.material("id-card", "居民身份证", e_license=True)
    b.material("household-book", "户口簿")
    b.material("photo", "照片", category="photo")
    b.material("cert-x", "证明X", category="certificate")
    one = b.item(1, req("identity", "id-card"), req("book", "household-book"), req("photo", "photo"))
    two = b.item(2, req("book", "household-book"), req("proof", "cert-x"))
    three = b.item(3, req("book", "household-book"))
    four = b.item(4, req("book", "household-book"))
    b.implement(one, "640100")
    b.implement(two, "640100")
    b.implement(one, "640200")
    b.implement(two, "640202", materials=[req("proof", "cert-x")])
    b.implement(three, "640000")
    b.implement(four, "640000")
    b.bundle("b", one, two)
    b.bundle("c", two, three)
    b.bundle("d", three, four)
    return b.catalog


EXPECTED = [
    ("household-book", 14, 6, 14, ["b", "c", "d"]),
    ("cert-x", 8, 0, 8, ["b", "c"]),
    ("photo", 4, 0, 4, ["b"]),
]


def figures(suggestions) -> list[tuple]:
    return [(s["material"], s["materials"], s["visits"], s["cases"], s["bundles"]) for s in suggestions]


def test_the_advisor_matches_the_hand_counts():
    catalog = hand_catalog()
    advice = advise(catalog, lambda bundle: catalog)  # the whole catalog holds every bundle's slice
    assert (advice.cases, advice.distinct) == (14, 5)
    assert [(s.material, s.materials, s.visits, s.cases, s.bundles) for s in advice.suggestions] == EXPECTED


def test_advice_on_the_api_the_command_line_and_the_page(sqlite_url):
    with running(Settings(db_url=sqlite_url, token_ttl=0), hand_catalog()) as api:
        r = api.get("/advice")
        assert r.status_code == 200, r.text
        assert figures(r.json()["suggestions"]) == EXPECTED
        api.sign_in("portal", "/pages/stats/advice")
        page = api.client.get("/pages/stats/advice")
        assert page.status_code == 200
        rows = re.findall(r'<tr data-material="([^"]+)">', page.text)
        assert rows == ["household-book", "cert-x", "photo"]
    done = subprocess.run(
        [sys.executable, "-m", "onething.cli", "advise", "--db", sqlite_url, "--json"],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == b""
    assert figures(json.loads(done.stdout)["suggestions"]) == EXPECTED
