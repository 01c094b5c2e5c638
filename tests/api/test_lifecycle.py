"""The §6 lifecycle through the API on SQLite and PostgreSQL: a region's list published by a
reviewer of that region, submissions held for approval (findings, diff, approve, reject),
versions and diffs, the needs-review queue, republishing, the audit — and region-scoped tokens
that cannot touch another region (403, nothing changes)."""

from __future__ import annotations

import msgspec

from catalog.model import Catalog, record_encoder

from .conftest import Api, jsonl, small_catalog

COUNTY, OTHER, FAR = "640104", "640105", "640202"
BIRTH = "000100001000"
NDJSON = {"Content-Type": "application/x-ndjson"}


def partial(catalog: Catalog, region: str) -> bytes:
    """The header and the region's own implementations: its submission (§6)."""
    lines = [record_encoder.encode(catalog.header)]
    lines += [
        record_encoder.encode(i) for _, i in sorted(catalog.implementations.items()) if i.region == region
    ]
    return b"".join(line + b"\n" for line in lines)


def faster(catalog: Catalog, region: str, days: int = 1) -> Catalog:
    """The region's implementations promising `days` days."""
    impls = {
        c: msgspec.structs.replace(i, promised_days=days) if i.region == region else i
        for c, i in catalog.implementations.items()
    }
    return msgspec.structs.replace(catalog, implementations=impls)


def scoped(api: Api, name: str, role: str, region: str) -> dict[str, str]:
    r = api.post("/tokens", role="admin", json={"name": name, "role": role, "region": region})
    assert r.status_code == 201, r.text
    assert r.json()["region"] == region
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_a_region_list_is_published_by_its_own_reviewer_and_versioned(api: Api) -> None:
    mine = scoped(api, "兴庆区审查员", "reviewer", COUNTY)
    body = partial(faster(small_catalog(), COUNTY), COUNTY)
    r = api.client.put(
        f"/regions/{COUNTY}/implementations?note=时限压缩", content=body, headers={**mine, **NDJSON}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["revision"], r.json()["changed"], r.json()["needs_review"]) == (2, 1, 0)

    versions = api.get("/versions", role="reviewer").json()["versions"]
    assert [(v["version"], v["by"], v["region"], v["note"]) for v in versions][-1] == (
        2,
        "兴庆区审查员",
        COUNTY,
        "时限压缩",
    )
    diff = api.get("/versions/1/diff/2", role="reviewer").json()
    assert diff["from"] == 1 and diff["to"] == 2 and diff["total"] == 1
    assert diff["counts"] == {"implementation": {"added": 0, "removed": 0, "changed": 1}}
    (entry,) = diff["entries"]
    assert entry["change"] == "changed" and entry["fields"]["promised_days"] == [3, 1]
    assert api.get("/versions/1/diff/9", role="reviewer").status_code == 404

    events = api.get("/audit", role="admin").json()["events"]
    assert (events[0]["action"], events[0]["by"], events[0]["detail"]["version"]) == (
        "publish",
        "兴庆区审查员",
        2,
    )
    assert any(e["action"] == "token.create" and e["target"] == "兴庆区审查员" for e in events)


def test_a_touched_error_refuses_a_region_list_with_its_findings(api: Api) -> None:
    catalog = small_catalog()
    impls = {
        c: msgspec.structs.replace(i, name=i.name + "（兴庆）") if i.region == COUNTY else i
        for c, i in catalog.implementations.items()
    }
    body = partial(msgspec.structs.replace(catalog, implementations=impls), COUNTY)
    r = api.put(f"/regions/{COUNTY}/implementations", role="reviewer", content=body, headers=NDJSON)
    assert r.status_code == 422, r.text
    assert {(e["rule"], e["kind"]) for e in r.json()["errors"]} == {("FOUR_SAME_NAME", "implementation")}
    assert api.store.revision() == 1


def test_a_region_scoped_token_cannot_touch_another_region(api: Api) -> None:
    reviewer = scoped(api, "r-640104", "reviewer", COUNTY)
    designer = scoped(api, "d-640104", "designer", COUNTY)
    before = (api.store.revision(), api.store.catalog())
    other = partial(faster(small_catalog(), OTHER), OTHER)
    whole = jsonl(faster(small_catalog(), OTHER))

    def status(method: str, url: str, headers: dict[str, str], **kw) -> int:
        return api.client.request(method, url, headers=headers, **kw).status_code

    assert status("PUT", f"/regions/{OTHER}/implementations", {**reviewer, **NDJSON}, content=other) == 403
    assert status("PUT", "/regions/640100/implementations", {**reviewer, **NDJSON}, content=other) == 403
    assert status("PUT", "/catalog", {**reviewer, **NDJSON}, content=whole) == 403
    assert status("POST", f"/submissions?region={OTHER}", {**reviewer, **NDJSON}, content=other) == 403
    assert status("POST", "/submissions", {**reviewer, **NDJSON}, content=whole) == 403
    refused = api.client.post("/submissions", headers={**reviewer, **NDJSON}, content=whole).json()
    assert refused["code"] == "OUT_OF_SCOPE" and "兴庆区（640104）" in refused["detail"]
    unknown = api.post("/submissions?region=649999", role="reviewer", content=other, headers=NDJSON).json()
    assert unknown["code"] == "UNKNOWN_REGION" and unknown["detail"] == "最新版本的目录中没有区划 649999。"
    assert status("POST", "/versions/1/republish", reviewer) == 403
    assert status("GET", f"/review?region={OTHER}", reviewer) == 403
    assert status("GET", "/audit", reviewer) == 403
    # Another region's pending submission: the scoped reviewer can neither see nor decide it.
    held = api.post(f"/submissions?region={OTHER}", role="reviewer", content=other, headers=NDJSON).json()
    for method, url, kw in (
        ("GET", f"/submissions/{held['id']}", {}),
        ("POST", f"/submissions/{held['id']}/approve", {}),
        ("POST", f"/submissions/{held['id']}/reject", {"json": {"reason": "不属本区"}}),
    ):
        assert status(method, url, reviewer, **kw) == 403, url
    assert api.get("/submissions", headers=reviewer, role=None).json()["total"] == 0
    # Designers: only bundles offered within the region, before and after.
    new = {"id": "far-copy", "name": "远方", "items": ["000100004000"]}
    assert status("POST", "/bundles", designer, json={**new, "regions": [FAR]}) == 403
    assert status("POST", "/bundles", designer, json=new) == 403  # everywhere is not within
    replace = {"name": "新生儿", "items": [BIRTH], "regions": [COUNTY]}
    assert status("PUT", "/bundles/newborn", {**designer, "If-Match": '"1"'}, json=replace) == 403
    assert status("DELETE", "/bundles/newborn", {**designer, "If-Match": '"1"'}) == 403

    assert (api.store.revision(), api.store.catalog()) == before
    assert api.store.submission(held["id"])[0].state == "pending"
    # Within its region it may: its own list, and a bundle offered there.
    mine = partial(faster(small_catalog(), COUNTY), COUNTY)
    assert status("PUT", f"/regions/{COUNTY}/implementations", {**reviewer, **NDJSON}, content=mine) == 200
    made = api.client.post(
        "/bundles", headers=designer, json={**new, "items": [BIRTH, "000100002000"], "regions": [COUNTY]}
    )
    assert made.status_code == 201, made.text
    assert made.json()["regions"] == [COUNTY]


def test_a_held_submission_shows_findings_and_diff_then_is_approved_or_rejected(api: Api) -> None:
    body = partial(faster(small_catalog(), COUNTY), COUNTY)
    r = api.post(f"/submissions?region={COUNTY}&note=压缩时限", role="reviewer", content=body, headers=NDJSON)
    assert r.status_code == 201, r.text
    held = r.json()
    assert (held["state"], held["refused"], held["based_on"], held["changed"]) == ("pending", False, 1, 1)
    assert (held["by"], held["note"], held["region"]) == ("test-reviewer", "压缩时限", COUNTY)
    assert api.store.revision() == 1  # held, not published
    diff = api.get(f"/submissions/{held['id']}/diff", role="reviewer").json()
    assert diff["entries"][0]["fields"]["promised_days"] == [3, 1]
    assert api.get(f"/submissions/{held['id']}/file", role="reviewer").content == body
    assert api.get("/submissions?state=pending", role="reviewer").json()["total"] == 1

    approved = api.post(f"/submissions/{held['id']}/approve", role="admin")
    assert approved.status_code == 201, approved.text
    assert approved.json()["revision"] == 2 and api.store.revision() == 2
    assert api.post(f"/submissions/{held['id']}/approve", role="reviewer").status_code == 409
    after = api.get(f"/submissions/{held['id']}", role="reviewer").json()
    assert (after["state"], after["decided_by"], after["version"]) == ("approved", "test-admin", 2)

    second = api.post(
        f"/submissions?region={OTHER}",
        role="reviewer",
        content=partial(small_catalog(), OTHER),
        headers=NDJSON,
    ).json()
    assert second["changed"] == 0 and not second["refused"]
    rejected = api.post(f"/submissions/{second['id']}/reject", role="reviewer", json={"reason": "无变化"})
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert rejected.json()["reason"] == "无变化"
    assert api.post(f"/submissions/{second['id']}/approve", role="reviewer").status_code == 409
    assert api.store.revision() == 2

    actions = [(e["action"], e["target"]) for e in api.get("/audit", role="admin").json()["events"]]
    sid, other = held["id"], second["id"]
    assert actions[:5] == [
        ("reject", f"submission {other}"),
        ("submit", f"submission {other}"),
        ("publish", "version 2"),
        ("approve", f"submission {sid}"),
        ("submit", f"submission {sid}"),
    ]


def test_a_refused_submission_is_held_with_its_findings_and_cannot_be_approved(api: Api) -> None:
    catalog = small_catalog()
    impls = {
        c: msgspec.structs.replace(i, name="改名") if i.region == COUNTY else i
        for c, i in catalog.implementations.items()
    }
    body = partial(msgspec.structs.replace(catalog, implementations=impls), COUNTY)
    held = api.post(f"/submissions?region={COUNTY}", role="reviewer", content=body, headers=NDJSON).json()
    assert held["refused"] and held["errors"] == 1 and held["findings"][0]["rule"] == "FOUR_SAME_NAME"
    assert api.get(f"/submissions/{held['id']}/diff", role="reviewer").status_code == 404
    r = api.post(f"/submissions/{held['id']}/approve", role="admin")
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "FOUR_SAME_NAME"
    assert api.store.revision() == 1 and api.store.submission(held["id"])[0].state == "pending"


def test_four_eyes_the_submitter_cannot_approve_another_reviewer_can(api: Api) -> None:
    body = partial(faster(small_catalog(), COUNTY), COUNTY)
    held = api.post(f"/submissions?region={COUNTY}", role="reviewer", content=body, headers=NDJSON).json()
    sid = held["id"]
    # The same token, the same person with another token (tokens are named for their holder), and
    # `override` asked by a reviewer: all refused, nothing published, still pending.
    twin = api.post("/tokens", role="admin", json={"name": "test-reviewer", "role": "reviewer"}).json()
    for headers in (
        api.auth("reviewer"),
        {"Authorization": f"Bearer {twin['token']}"},
    ):
        for query in ("", "?override=true"):
            r = api.client.post(f"/submissions/{sid}/approve{query}", headers=headers)
            assert r.status_code == 403, r.text
            problem = r.json()
            assert problem["code"] == "OWN_SUBMISSION"
            assert problem["type"] == "urn:onething:problem:own-submission"
            assert f"提交 #{sid}" in problem["detail"] and "四眼原则" in problem["detail"]
            assert "override" not in problem["detail"]  # a reviewer cannot override: not offered
    assert api.store.revision() == 1 and api.store.submission(sid)[0].state == "pending"
    assert not any(e["action"].startswith("approve") for e in api.get("/audit", role="admin").json()["events"])

    other = api.post("/tokens", role="admin", json={"name": "另一位审查员", "role": "reviewer"}).json()
    r = api.client.post(f"/submissions/{sid}/approve", headers={"Authorization": f"Bearer {other['token']}"})
    assert r.status_code == 201, r.text
    after = api.get(f"/submissions/{sid}", role="reviewer").json()
    assert (after["state"], after["decided_by"], after["version"]) == ("approved", "另一位审查员", 2)
    version = api.get("/versions", role="reviewer").json()["versions"][-1]
    assert version["by"] == "另一位审查员" and version["note"] == f"提交 #{sid}，提交人 test-reviewer"
    actions = [e["action"] for e in api.get("/audit", role="admin").json()["events"]]
    assert "approve.override" not in actions


def test_four_eyes_an_admin_may_override_and_it_is_audited(api: Api) -> None:
    body = partial(faster(small_catalog(), COUNTY), COUNTY)
    r = api.post(f"/submissions?region={COUNTY}&note=压缩时限", role="admin", content=body, headers=NDJSON)
    sid = r.json()["id"]
    refused = api.post(f"/submissions/{sid}/approve", role="admin")
    assert refused.status_code == 403 and refused.json()["code"] == "OWN_SUBMISSION"
    assert "override=true" in refused.json()["detail"] and "审计" in refused.json()["detail"]
    assert api.store.revision() == 1

    done = api.post(f"/submissions/{sid}/approve?override=true", role="admin")
    assert done.status_code == 201, done.text
    assert api.store.revision() == 2
    assert api.get("/versions", role="reviewer").json()["versions"][-1]["note"] == (
        f"压缩时限（提交 #{sid}，提交人 test-admin）"
    )
    events = api.get("/audit", role="admin").json()["events"]
    assert [(e["action"], e["target"]) for e in events[:3]] == [
        ("publish", "version 2"),
        ("approve.override", f"submission {sid}"),
        ("approve", f"submission {sid}"),
    ]
    override = events[1]
    assert override["by"] == "test-admin" and override["detail"]["submitter"] == "test-admin"
    assert "四眼原则" in override["detail"]["note"]


def test_four_eyes_is_documented_in_openapi(sqlite_api: Api) -> None:
    schema = sqlite_api.get("/schema/openapi.json", role=None).json()
    operation = schema["paths"]["/submissions/{sid}/approve"]["post"]
    assert "OWN_SUBMISSION" in operation["responses"]["403"]["description"]
    assert any(p["name"] == "override" and p["in"] == "query" for p in operation["parameters"])


def test_a_national_rename_fills_the_review_queue_and_republish_restores(api: Api) -> None:
    catalog = small_catalog()
    items = dict(catalog.items)
    items[BIRTH] = msgspec.structs.replace(items[BIRTH], name="出生医学证明办理")
    renamed = jsonl(msgspec.structs.replace(catalog, items=items))
    r = api.put("/catalog?note=国家事项更名", role="reviewer", content=renamed, headers=NDJSON)
    assert r.status_code == 200 and r.json()["needs_review"] == 2, r.text

    queue = api.get("/review", role="reviewer").json()
    assert queue["version"] == 2 and queue["total"] == 2
    assert {f["region"] for f in queue["needs_review"]} == {COUNTY, OTHER}
    flag = queue["needs_review"][0]
    assert flag["cause"] == {"item": BIRTH, "changed": {"name": ["出生医学证明签发", "出生医学证明办理"]}}
    assert flag["findings"][0]["rule"] == "FOUR_SAME_NAME"
    assert api.get(f"/review?item={BIRTH}&rule=FOUR_SAME_NAME", role="reviewer").json()["total"] == 2
    assert api.get("/review?rule=TIME_LIMIT", role="reviewer").json()["total"] == 0
    page = api.get("/review?limit=1&offset=1", role="reviewer").json()
    assert page["total"] == 2 and len(page["needs_review"]) == 1
    mine = scoped(api, "r-640104", "reviewer", COUNTY)
    own = api.client.get("/review", headers=mine).json()
    assert [f["region"] for f in own["needs_review"]] == [COUNTY]

    again = api.post("/versions/1/republish?note=撤回更名", role="reviewer")
    assert again.status_code == 201 and again.json()["revision"] == 3
    assert api.store.catalog(3).items == api.store.catalog(1).items
    assert api.get("/review", role="reviewer").json()["total"] == 0
    assert api.get("/audit?action=republish", role="admin").json()["events"][0]["detail"]["source"] == 1


def test_a_diff_is_read_a_page_at_a_time_and_pages_add_up_to_the_whole(db_url, tmp_path):
    """The API reads one page of a diff from the store (never the whole diff) and the command
    line streams it: every page, every kind filter and the streamed JSON agree with the diff
    computed whole."""
    import io
    import json
    import random

    from api.services.lifecycle import diff_entries
    from api.settings import Settings
    from catalog.load import dump_lines
    from catalog.validate import load_bytes
    from fixtures.generate import generate
    from tests.conftest import onething

    from .conftest import running

    out = io.BytesIO()
    generate(out, 400, seed=11)
    first, _ = load_bytes(out.getvalue())
    rng = random.Random(5)
    impls = dict(first.implementations)
    codes = sorted(impls)
    picked = rng.sample(codes, 32)
    for code in picked[:23]:
        impls[code] = msgspec.structs.replace(impls[code], window="调整后的窗口")
    for code in picked[23:]:
        del impls[code]
    region = next(iter(first.regions.values()))
    regions = {**first.regions, region.code: msgspec.structs.replace(region, name=region.name + "（新）")}
    second = msgspec.structs.replace(first, implementations=impls, regions=regions, lines={})
    with running(Settings(db_url=db_url, token_ttl=0), first) as api:
        store = api.client.app.state.store
        path = tmp_path / "b.jsonl"
        path.write_bytes(b"".join(dump_lines(second)))
        store.publish_file(path, by="test")
        whole = store.diff(1, 2)
        counts, entries = diff_entries(whole, None)
        assert counts["implementation"].changed == 23 and counts["implementation"].removed == 9
        expected = [msgspec.to_builtins(e) for e in entries]
        for limit in (1, 7, 1000):
            got, offset = [], 0
            while True:
                page = api.get(f"/versions/1/diff/2?limit={limit}&offset={offset}", role="reviewer").json()
                assert page["total"] == len(expected)
                got.extend(page["entries"])
                offset += limit
                if offset >= page["total"]:
                    break
            assert got == expected
            got, after = [], None  # the same by key: each page's `next` to the page after it
            while True:
                query = f"limit={limit}" + ("" if after is None else f"&after={after}")
                page = api.get(f"/versions/1/diff/2?{query}", role="reviewer").json()
                got.extend(page["entries"])
                after = page["next"]
                if after is None:
                    break
                assert len(page["entries"]) == limit
            assert got == expected
        bad = api.get("/versions/1/diff/2?after=item:moved:x", role="reviewer")
        assert bad.status_code == 400 and "after" in bad.text
        region_only = api.get("/versions/1/diff/2?kind=region&limit=1000", role="reviewer").json()
        assert region_only["entries"] == [e for e in expected if e["kind"] == "region"]
    streamed = onething("diff", "1", "2", "--db", db_url, "--json")
    assert streamed.returncode == 0, streamed.stderr
    assert json.loads(streamed.stdout) == msgspec.to_builtins(whole)
