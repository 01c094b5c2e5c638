"""Instances learn of each other's writes without a database read per request (`api.notify`), and
a cached workflow GET is answered in front of Litestar with Litestar's very bytes (`api.cache.
CachedAnswers`)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import msgspec
import pytest

from api.settings import Settings
from catalog.load import dump_lines

from .conftest import Api, running, small_catalog

WORKFLOW = "/bundles/newborn/workflow"
REGION = {"region": "640104"}


def wait_until(seen: Callable[[], bool], within: float = 1.0) -> bool:
    """Whether `seen()` came true before `within` seconds were out (asked again and again)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if seen():
            return True
        time.sleep(0.02)
    return seen()


def republished(api: Api) -> None:
    """Publish version 2 (one implementation's promised days changed) through `api`."""
    catalog = small_catalog()
    impls = dict(catalog.implementations)
    code = next(c for c, i in sorted(impls.items()) if i.region == "640104")
    impls[code] = msgspec.structs.replace(impls[code], promised_days=0)
    changed = msgspec.structs.replace(catalog, implementations=impls, lines={})
    r = api.put("/catalog", role="reviewer", content=b"".join(dump_lines(changed)))
    assert r.status_code == 200 and r.json()["revision"] == 2, r.text


def views(api: Api):
    return api.client.app.state.views


def front(api: Api):
    return api.client.app.front


def see_a_publish_of_another(a: Api, b: Api) -> None:
    """B serves cached reads without reading the heads, then sees A's publish within a second."""
    for _ in range(3):  # a miss, a hit Litestar answers, then answers from memory
        assert b.get(WORKFLOW, role=None, params=REGION).json()["revision"] == 1
    probes, replayed = views(b).probes, front(b).replayed
    for _ in range(20):
        assert b.get(WORKFLOW, role=None, params=REGION).json()["revision"] == 1
        assert b.get("/bundles/newborn", role=None).status_code == 200  # through Litestar
    assert views(b).probes == probes  # no request read the heads
    assert front(b).replayed == replayed + 20
    assert views(b).heads.reads >= 1  # the watcher did

    republished(a)
    assert wait_until(lambda: b.get(WORKFLOW, role=None, params=REGION).json()["revision"] == 2)
    assert b.get("/health").json()["revision"] == 2


def test_an_instance_sees_a_publish_of_another_by_notification(pg_url: str) -> None:
    # The poll is a minute apart: only the notification can tell B within the second.
    settings = Settings(db_url=pg_url, token_ttl=0, heads_poll=60)
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(running(settings, small_catalog()))
        b = stack.enter_context(running(settings, tokens=a.tokens))
        assert wait_until(lambda: views(b).heads.reads > 0, within=10)  # B's watcher is listening
        see_a_publish_of_another(a, b)
        assert views(b).heads.notified >= 1


def test_without_notifications_the_poll_tells_within_a_second(db_url: str) -> None:
    """PostgreSQL with notifications off, and SQLite (where the poll is the only way)."""
    settings = Settings(db_url=db_url, token_ttl=0, notify=False)
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(running(settings, small_catalog()))
        b = stack.enter_context(running(settings, tokens=a.tokens))
        see_a_publish_of_another(a, b)
        assert views(b).heads.notified == 0


def test_an_instance_reads_its_own_write_at_once(db_url: str) -> None:
    with running(Settings(db_url=db_url, token_ttl=0, heads_poll=60, notify=False), small_catalog()) as api:
        for _ in range(3):
            before = api.get(WORKFLOW, params=REGION)
            assert before.json()["revision"] == 1
        current = api.get("/bundles/newborn")
        body = {"name": "新生儿出生一件事（调整）", "items": current.json()["items"], "description": ""}
        saved = api.put("/bundles/newborn", json=body, headers={"If-Match": current.headers["etag"]})
        assert saved.status_code == 200, saved.text
        assert api.get("/bundles/newborn").json()["version"] == 2
        assert api.get(WORKFLOW, params=REGION).headers["etag"] != before.headers["etag"]  # the new bundle
        republished(api)
        assert api.get(WORKFLOW, params=REGION).json()["revision"] == 2


def _raw(response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return response.status_code, list(response.headers.raw), response.content


@pytest.mark.parametrize("path", [WORKFLOW, "/bundles/newborn/guide"])
@pytest.mark.parametrize("role", [None, "portal"])
def test_an_answer_from_memory_is_litestars_to_the_byte(sqlite_url: str, path: str, role: str | None) -> None:
    with running(Settings(db_url=sqlite_url, token_ttl=5), small_catalog()) as api:
        app = api.client.app
        first = api.get(path, role=role, params=REGION)
        assert first.status_code == 200 and first.headers["x-cache"] == "miss"
        etag = first.headers["etag"]
        conditional = {"If-None-Match": etag}
        # Litestar answers each kind (and is captured once the heads are known); then memory answers.
        for _ in range(2):
            slow = [
                api.get(path, role=role, params=REGION),
                api.get(path, role=role, params=REGION, headers=conditional),
            ]
        replayed = app.front.replayed
        fast = [
            api.get(path, role=role, params=REGION),
            api.get(path, role=role, params=REGION, headers=conditional),
        ]
        assert app.front.replayed == replayed + 2
        kept, app.front = app.front, None  # Litestar alone, for comparison
        try:
            alone = [
                api.get(path, role=role, params=REGION),
                api.get(path, role=role, params=REGION, headers=conditional),
            ]
        finally:
            app.front = kept
        assert [r.status_code for r in fast] == [200, 304]
        assert [_raw(r) for r in fast] == [_raw(r) for r in slow] == [_raw(r) for r in alone]
        headers = fast[0].headers
        assert headers["x-cache"] == "hit" and headers["etag"] == etag
        assert headers["cache-control"].startswith("public, max-age=")
        assert headers["x-frame-options"] == "DENY" and "default-src" in headers["content-security-policy"]
        # A stale If-None-Match gets the body; other answers and requests go to Litestar.
        assert _raw(api.get(path, role=role, params=REGION, headers={"If-None-Match": '"old"'})) == _raw(
            fast[0]
        )
        replayed = app.front.replayed
        other_region = api.get(path, role=role, params={"region": "640105"})
        assert other_region.status_code == 200 and other_region.headers["etag"] != etag
        cookie = api.client.get(path, params=REGION, headers={**api.auth(role), "Cookie": "x=1"})
        assert cookie.status_code == 200
        bad = api.client.get(path, params=REGION, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert app.front.replayed == replayed
