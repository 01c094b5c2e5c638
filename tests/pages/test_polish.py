"""Small truths the pages tell: the catalog's version is the store's (it moves when a version is
published), phone numbers are `tel:` links, the checks page counts counties only."""

from __future__ import annotations

import re
from collections.abc import Iterator

import msgspec
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.settings import Settings
from tests.pages.conftest import ningxia

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
