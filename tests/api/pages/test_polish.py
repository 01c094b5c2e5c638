"""Small truths the pages tell: the catalog's version is the store's (it moves when a version is
published), phone numbers are `tel:` links, the checks page counts counties only."""

from __future__ import annotations

import re
from collections.abc import Iterator

import msgspec
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.pages.csrf import FIELD, token_for
from api.settings import Settings
from tests.api.pages.conftest import ningxia

GUIDE = "/pages/bundles/newborn/guide?region=640104"


@pytest.fixture
def app_client(sqlite_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(db_url=sqlite_url, token_ttl=0))
    app.state.store.publish(ningxia())
    with TestClient(app, raise_server_exceptions=False) as client:
        token = app.state.store.create_token("polish-admin", "admin")
        client.headers["Cookie"] = f"onething_session={app.state.tokens.sessions.open(token)}"
        yield client


def test_the_version_shown_is_the_stores_and_moves_with_a_publish(app_client: TestClient) -> None:
    store = app_client.app.state.store
    guide = app_client.get(GUIDE).text
    assert "目录第 1 版" in guide and "2026.11" not in guide
    designer = app_client.get("/pages/designer?bundle=newborn&region=640104").text
    assert "目录第 1 版" in designer
    assert "第 1 版" in app_client.get("/pages/regions").text  # the footer
    assert "目录第 1 版" in app_client.get("/pages/review").text  # not the file header's "2026.11"

    catalog = ningxia()
    impls = {
        code: msgspec.structs.replace(impl, promised_days=max(0, impl.promised_days - 1))
        if impl.region == "640104"
        else impl
        for code, impl in catalog.implementations.items()
    }
    store.publish(msgspec.structs.replace(catalog, implementations=impls, lines={}))
    assert store.revision() == 2
    assert "目录第 2 版" in app_client.get(GUIDE).text
    assert "目录第 2 版" in app_client.get("/pages/designer?bundle=newborn&region=640104").text
    assert "第 2 版" in app_client.get("/pages/regions").text
    assert "目录第 2 版" in app_client.get("/pages/review").text


def test_phone_numbers_are_tel_links(app_client: TestClient) -> None:
    guide = app_client.get(GUIDE).text
    assert re.search(r'<a href="tel:12345">12345</a>', guide)
    impl = "11640104036401041P4002002101000"
    page = app_client.get(f"/pages/implementations/{impl}").text
    assert '<a href="tel:12345" id="phone">12345</a>' in page


def test_tel_keeps_a_dialable_number() -> None:
    from api.pages.render import tel

    assert tel("12345") == "12345"
    assert tel("0951-1234567 / 12345") == "0951-1234567"
    assert tel("+86 951 1234567") == "+869511234567"
    assert tel("见大厅公告") == ""


def test_a_county_designer_edits_its_own_bundles_on_the_page(app_client: TestClient) -> None:
    """A designer token scoped to 兴庆区 saves, replaces and deletes bundles offered there through
    the designer page (no "use the API"); a bundle offered beyond its region it may open, never change."""
    app = app_client.app
    store = app.state.store
    token = store.create_token("polish-county", "designer", region="640104")
    session = app.state.tokens.sessions.open(token)
    cookie = {"Cookie": f"onething_session={session}"}
    items = list(ningxia().bundles["newborn"].items[:2])

    opened = app_client.get("/pages/designer?bundle=newborn&region=640104", headers=cookie).text
    assert 'id="offered"' in opened and 'id="out-of-scope"' in opened
    assert 'id="delete"' not in opened and "通过 API" not in opened

    def save(**fields):
        data = {
            "items": items,
            "region": "640104",
            "name": "兴庆区新生儿一件事",
            FIELD: token_for(session),
            **fields,
        }
        return app_client.post("/pages/designer/save", data=data, headers=cookie, follow_redirects=False)

    refused = save(id="newborn", original="newborn", version="1", offered="640104")
    assert refused.status_code == 403 and "只能修改在兴庆区提供的一件事" in refused.text
    assert store.bundle("newborn").bundle.regions is None
    assert save(id="xq-newborn", offered="640105").status_code == 422  # 西夏区: not its region

    made = save(id="xq-newborn", offered="640104")
    assert made.status_code == 303, made.text[:500]
    assert store.bundle("xq-newborn").bundle.regions == ["640104"]
    page = app_client.get(made.headers["location"], headers=cookie).text
    assert "已保存" in page and 'id="out-of-scope"' not in page and 'id="delete"' in page

    replaced = save(id="xq-newborn", original="xq-newborn", version="1", offered="640104", name="改名")
    assert replaced.status_code == 303 and store.bundle("xq-newborn").bundle.name == "改名"

    def delete(bundle: str, version: str):
        data = {"id": bundle, "version": version, "region": "640104", FIELD: token_for(session)}
        return app_client.post("/pages/designer/delete", data=data, headers=cookie, follow_redirects=False)

    refused = delete("newborn", "1")
    assert refused.status_code == 403 and "表单已失效" not in refused.text  # its region's refusal
    assert store.bundle("newborn") is not None
    assert delete("xq-newborn", "2").status_code == 303 and store.bundle("xq-newborn") is None


def test_times_are_beijing_time() -> None:
    from datetime import UTC, datetime

    from api.pages.render import beijing

    assert beijing("2026-12-04T15:30:00+00:00") == "2026-12-04 23:30"
    assert beijing(datetime(2026, 12, 31, 20, 0, tzinfo=UTC)) == "2027-01-01 04:00"
    assert beijing("2026-12-04T15:30:00") == "2026-12-04 23:30"  # stored naive: UTC
    assert beijing(None) == ""


def test_the_version_list_speaks_beijing_time(app_client: TestClient) -> None:
    page = app_client.get("/pages/versions").text
    assert "发布时间（北京时间）" in page and "UTC" not in page


def test_a_server_error_under_pages_is_a_page_too(app_client: TestClient, monkeypatch) -> None:
    """A real failure (the store's table of implementations gone): the visitor reads a page in
    Chinese, the API a problem document; neither a traceback."""
    import sqlalchemy as sa

    import api.problems
    from api.problems import OutageLog

    # The outage log is one per process and speaks once in 30 s: this test's outage gets its own,
    # so that the next test's outage is logged afresh.
    monkeypatch.setattr(api.problems, "database_outage", OutageLog("database"))

    store = app_client.app.state.store
    with store.engine.begin() as conn:
        tables = [t for t in sa.inspect(conn).get_table_names() if "impl" in t]
        assert tables
        for table in tables:
            conn.execute(sa.text(f'DROP TABLE "{table}"'))
    r = app_client.get("/pages/regions/640105")
    assert r.status_code >= 500 and r.headers["content-type"].startswith("text/html")
    assert "服务器出错了" in r.text or "暂时不可用" in r.text
    assert "Traceback" not in r.text and 'href="/"' in r.text
    api = app_client.get("/regions/640105/items", headers={"Cookie": ""})
    assert api.status_code >= 400 and not api.headers["content-type"].startswith("text/html")


def test_statistics_count_bundles_in_counties(app_client: TestClient) -> None:
    counties = sum(1 for r in ningxia().regions.values() if r.level == "county")
    page = app_client.get("/pages/stats").text
    offered = re.search(r'<tr data-bundle="newborn"><td>[^<]+</td><td class="num">(\d+)</td>', page)
    assert offered is not None and int(offered.group(1)) == counties
    city = app_client.get("/pages/stats?region=640100").text  # 银川市: its counties only
    under = sum(1 for c, r in ningxia().regions.items() if r.level == "county" and c.startswith("6401"))
    offered = re.search(r'<tr data-bundle="newborn"><td>[^<]+</td><td class="num">(\d+)</td>', city)
    assert offered is not None and int(offered.group(1)) == under
