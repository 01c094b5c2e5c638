"""Two app instances on one database: a publish, a region's submission or a bundle save on one
is seen by the other within a second (`api.notify`; `tests/api/test_notify.py` shows how), and
no request waits for a reload of the catalog."""

from __future__ import annotations

import contextlib

import msgspec

from api.settings import Settings
from catalog.load import dump_lines

from .conftest import running, small_catalog
from .test_notify import wait_until


def test_a_write_on_one_instance_is_seen_by_the_other_within_a_second(db_url):
    catalog = small_catalog()
    settings = Settings(db_url=db_url, token_ttl=0)
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(running(settings, catalog))
        b = stack.enter_context(running(settings, tokens=a.tokens))
        before = b.get("/bundles/newborn/workflow", params={"region": "640104"})
        assert before.status_code == 200 and before.json()["revision"] == 1

        # A whole publish on A: B's next workflow is computed on version 2.
        impls = dict(catalog.implementations)
        code = next(c for c, i in sorted(impls.items()) if i.region == "640104")
        impls[code] = msgspec.structs.replace(impls[code], promised_days=0)
        changed = msgspec.structs.replace(catalog, implementations=impls, lines={})
        r = a.put("/catalog", role="reviewer", content=b"".join(dump_lines(changed)))
        assert r.status_code == 200, r.text
        assert r.json()["revision"] == 2 and r.json()["changed"] == 1
        workflow = lambda: b.get("/bundles/newborn/workflow", params={"region": "640104"})  # noqa: E731
        assert wait_until(lambda: workflow().json()["revision"] == 2)
        after = workflow()
        assert after.headers["etag"] != before.headers["etag"]
        assert b.get("/health").json()["revision"] == 2

        # A bundle save on B: A sees the new bundle version at once, on the same catalog version.
        current = a.get("/bundles/newborn")
        body = {"name": "新生儿出生一件事（调整）", "items": current.json()["items"], "description": ""}
        saved = b.put("/bundles/newborn", json=body, headers={"If-Match": current.headers["etag"]})
        assert saved.status_code == 200, saved.text
        assert wait_until(lambda: a.get("/bundles/newborn").json()["version"] == 2)
        seen = a.get("/bundles/newborn")
        assert seen.json()["name"] == "新生儿出生一件事（调整）" and seen.json()["version"] == 2
        assert a.get("/health").json()["revision"] == 2

        # Every list that grows with the catalog is paged, an item's implementations too.
        item = next(iter(sorted(catalog.items)))
        page = a.get(f"/items/{item}", params={"limit": 1})
        assert page.status_code == 200 and page.json()["limit"] == 1
        assert len(page.json()["implementations"]) == 1 <= page.json()["total"]
        assert a.get(f"/items/{item}", params={"limit": 5000}).status_code == 400
