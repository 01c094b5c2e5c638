"""The bundle designer in a real browser: compose by clicking, compare with the bundler, save, and
the version check that keeps two designers from overwriting each other."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from bundler import compose
from bundler.graph import precedence, resolve

from ..test_notify import wait_until
from .conftest import Server

pytestmark = pytest.mark.browser

REGION = "640104"  # 兴庆区
PICKS = ["002002102000", "000700104000", "002002103000"]  # 出生医学证明签发 · 出生登记 · 预防接种


def refresh(page, button: str = "#refresh") -> None:
    """Press a preview button: pages.js fetches the page and swaps the preview in place."""
    status = page.locator("#preview-status")
    status.evaluate("s => { s.textContent = ''; }")
    page.click(button)
    expect(status).to_have_text("预览已更新")


def pick(page, code: str) -> None:
    """Search by code, tick the item and add it: it comes back picked, without a page load."""
    page.fill("#search", code)
    refresh(page, "button[name=search]")
    page.locator(f"#results input[value='{code}']").check()
    refresh(page, "#add-picked")
    assert page.locator(f"#picked input[value='{code}']").is_checked()


def shown_metrics(page) -> dict[str, float]:
    out: dict[str, float] = {"fees": float(page.locator("#metrics #fees").get_attribute("data-fees"))}
    for key, before, after in page.locator("#metrics .metric[data-metric]").evaluate_all(
        "ms => ms.map(m => [m.dataset.metric, m.dataset.before, m.dataset.after])"
    ):
        out[f"{key}_before"] = int(before)
        out[f"{key}_after"] = int(after)
    return out


def test_compose_by_clicking_matches_the_bundler_and_the_api(
    site: Server, open_page, artifacts: Path
) -> None:
    catalog = site.catalog
    page = open_page(site, "designer")
    page.goto("/pages/designer")
    page.select_option("#region", REGION)
    refresh(page)
    assert page.locator("#region").input_value() == REGION
    for code in PICKS:
        pick(page, code)

    workflow = compose(catalog, PICKS, REGION)
    metrics = {name: getattr(workflow.metrics, name) for name in workflow.metrics.__struct_fields__}
    assert shown_metrics(page) == metrics
    with site.api("portal") as api:
        answer = api.post("/workflows", json={"items": PICKS, "region": REGION})
        assert answer.status_code == 200, answer.text
        assert answer.json()["metrics"] == metrics

    assert page.locator("#bring li[data-material]").evaluate_all("ls => ls.map(l => l.dataset.material)") == [
        m.id for m in workflow.materials
    ]
    assert page.locator("#waived tr[data-reason]").evaluate_all("rs => rs.map(r => r.dataset.reason)") == [
        w.reason for w in workflow.waived
    ]
    assert "内部流转" in page.locator("#waived").inner_text()
    # The graph: one box per item, in the stage the bundler gave it; one arrow per precedence link.
    nodes = page.locator("#graph .graph-wide svg g.node").evaluate_all("gs => gs.map(g => g.dataset.item)")
    assert sorted(nodes) == sorted(PICKS)
    links = precedence(catalog, resolve(catalog, PICKS, REGION))
    assert page.locator("#graph .graph-wide svg path.edge").count() == links.number_of_edges() > 0
    assert page.locator("#steps tr[data-item]").evaluate_all(
        "rs => rs.map(r => [r.dataset.item, +r.dataset.stage])"
    ) == [[s.item, s.stage] for s in workflow.steps]
    page.screenshot(path=str(artifacts / "page-designer.png"), full_page=True)

    # Save it (a designer is signed in): the store holds it at version 1.
    page.fill("#bundle-id", "pages-newborn-3")
    page.fill("#bundle-name", "新生儿出生三项联办")
    with page.expect_navigation():
        page.click("#save")
    assert "已保存" in page.locator("#saved").inner_text()
    store = site.store()
    try:
        saved = store.bundle("pages-newborn-3")
        assert saved is not None and saved.version == 1
        assert saved.bundle.items == PICKS and saved.bundle.name == "新生儿出生三项联办"
    finally:
        store.dispose()
    with site.api("portal") as api:
        assert api.get("/bundles/pages-newborn-3").json()["items"] == PICKS

    # Take one item out and save again: the same bundle, replaced, version 2.
    page.locator(f"#picked input[value='{PICKS[2]}']").uncheck()
    refresh(page)
    assert shown_metrics(page) != metrics
    with page.expect_navigation():
        page.click("#save")
    assert page.locator("#saved").is_visible()
    store = site.store()
    try:
        again = store.bundle("pages-newborn-3")
        assert again is not None and again.version == 2 and again.bundle.items == PICKS[:2]
    finally:
        store.dispose()


def test_a_stale_save_is_refused(site: Server, open_page) -> None:
    store = site.store()
    try:
        from catalog.model import Bundle

        store.create_bundle(Bundle(id="pages-stale", name="并发修改测试", items=PICKS[:2]))
    finally:
        store.dispose()
    served(site, "pages-stale")
    first = open_page(site, "designer")
    second = first.context.new_page()
    for page in (first, second):
        page.goto(f"/pages/designer?bundle=pages-stale&region={REGION}")
        assert page.locator("input[name=version]").input_value() == "1"

    first.fill("#bundle-name", "第一位设计人员的名称")
    with first.expect_navigation():
        first.click("#save")
    assert first.locator("#saved").is_visible()

    second.fill("#bundle-name", "第二位设计人员的名称")
    with second.expect_navigation() as navigation:
        second.click("#save")
    assert navigation.value.status == 412
    said = second.locator("#save-error").inner_text()
    assert "一件事“第一位设计人员的名称”已被他人修改，现在是第 2 版" in said
    assert "bundle" not in said and "version" not in said
    store = site.store()
    try:
        held = store.bundle("pages-stale")
        assert held is not None and held.version == 2 and held.bundle.name == "第一位设计人员的名称"
    finally:
        store.dispose()


def test_saving_needs_a_designer(site: Server, open_page) -> None:
    page = open_page(site, "portal")
    page.goto(f"/pages/designer?items={PICKS[0]}&items={PICKS[1]}&region={REGION}&edited=1")
    assert page.locator("#metrics").is_visible()
    assert page.locator("#save").count() == 0
    assert "以设计人员身份登录" in page.locator("#save-card").inner_text()
    # Posting the form anyway is refused, and nothing is stored.
    answer = page.request.post(
        "/pages/designer/save",
        form={"id": "pages-portal", "name": "门户不能保存", "items": PICKS[0], "region": REGION},
    )
    assert answer.status == 403
    store = site.store()
    try:
        assert store.bundle("pages-portal") is None
    finally:
        store.dispose()


def save(page, items, bundle: str, name: str) -> tuple[int, str]:
    """Pick `items` in the designer, save them as `bundle` named `name`: the status the save
    answered and what #save-error says."""
    picks = "".join(f"items={code}&" for code in items)
    page.goto(f"/pages/designer?{picks}region={REGION}&edited=1")
    page.fill("#bundle-id", bundle)
    page.fill("#bundle-name", name)
    with page.expect_navigation() as navigation:
        page.click("#save")
    return navigation.value.status, page.locator("#save-error").inner_text()


def test_a_save_the_store_or_the_validator_refuses_says_why(site: Server, open_page) -> None:
    page = open_page(site, "designer")
    # One item is not a bundle (BUNDLE: fewer than 2 items).
    status, error = save(page, PICKS[:1], "pages-single", "只有一个事项")
    assert status == 422 and "至少勾选两个事项" in error
    # An id another bundle has: created elsewhere, not overwritten here.
    status, error = save(page, PICKS[:2], "newborn", "抢占编号")
    assert status == 409 and "编号已被" in error
    # The page keeps what the designer typed and picked.
    assert page.locator("#bundle-name").input_value() == "抢占编号"
    assert page.locator("#picked input:checked").count() == 2
    store = site.store()
    try:
        assert store.bundle("pages-single") is None
        newborn = store.bundle("newborn")
        assert newborn is not None and newborn.bundle.name == site.catalog.bundles["newborn"].name
    finally:
        store.dispose()


def test_open_a_stored_bundle(site: Server, open_page, artifacts: Path) -> None:
    from bundler import compose_bundle

    page = open_page(site, "designer")
    page.goto(f"/pages/designer?region={REGION}")
    page.select_option("#open-bundle select[name=bundle]", "newborn")
    with page.expect_navigation():
        page.click("#open-bundle button[type=submit]")
    bundle = site.catalog.bundles["newborn"]
    assert page.locator("#picked input:checked").evaluate_all("bs => bs.map(b => b.value)") == bundle.items
    assert page.locator("#bundle-name").input_value() == bundle.name
    assert page.locator("input[name=version]").input_value() == "1"
    workflow = compose_bundle(site.catalog, "newborn", REGION)
    metrics = {name: getattr(workflow.metrics, name) for name in workflow.metrics.__struct_fields__}
    assert shown_metrics(page) == metrics
    assert page.locator("#graph .graph-wide svg g.node").count() == len(
        workflow.steps
    )  # conditional items wait
    assert (
        page.locator("#guide-link").get_attribute("href") == f"/pages/bundles/newborn/guide?region={REGION}"
    )
    page.screenshot(path=str(artifacts / "page-designer-bundle.png"), full_page=True)


def test_the_precedence_graph_turns_vertical_on_a_phone(site: Server, open_page, artifacts: Path) -> None:
    from bundler import compose_bundle

    page = open_page(site, "designer")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/pages/designer?region={REGION}&bundle=newborn")
    workflow = compose_bundle(site.catalog, "newborn", REGION)
    tall = page.locator("#graph .graph-narrow svg")
    expect(tall).to_be_visible()
    expect(page.locator("#graph .graph-wide svg")).to_be_hidden()
    assert tall.locator("g.node").count() == len(workflow.steps)
    assert tall.bounding_box()["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("#graph").screenshot(path=str(artifacts / "designer-graph-phone.png"))


def test_a_save_keeps_what_the_form_does_not_edit(site: Server, open_page) -> None:
    """Where a bundle is offered, its one window, its target days and its situations (`when`)
    are not on the form: saving the bundle keeps them — a situation only while its item stays."""
    from catalog.model import Bundle

    conditional = PICKS[2]
    store = site.store()
    try:
        store.create_bundle(
            Bundle(
                id="pages-keep",
                name="保留字段测试",
                items=PICKS,
                regions=["640100"],
                window="综合受理窗口",
                target_days=5,
                when={conditional: {"wants-social-card": ["yes"]}},
            )
        )
    finally:
        store.dispose()
    served(site, "pages-keep")
    page = open_page(site, "designer")
    page.goto(f"/pages/designer?bundle=pages-keep&region={REGION}")
    page.fill("#bundle-name", "保留字段测试（改名）")
    with page.expect_navigation():
        page.click("#save")
    assert page.locator("#saved").is_visible()
    renamed = held_bundle(site, "pages-keep")
    assert (renamed.name, renamed.regions, renamed.window, renamed.target_days, renamed.when) == (
        "保留字段测试（改名）",
        ["640100"],
        "综合受理窗口",
        5,
        {conditional: {"wants-social-card": ["yes"]}},
    )

    page.locator(f"#picked input[value='{conditional}']").uncheck()
    with page.expect_navigation():
        page.click("#save")
    assert page.locator("#saved").is_visible()
    fewer = held_bundle(site, "pages-keep")
    assert fewer.items == PICKS[:2] and fewer.when == {}  # its item left: its situation too
    assert (fewer.regions, fewer.window, fewer.target_days) == (["640100"], "综合受理窗口", 5)


def served(site: Server, bundle_id: str) -> None:
    """Wait until the server serves a bundle written through another connection (it learns of
    it within a poll: `api.notify`)."""
    with site.api("portal") as api:
        assert wait_until(lambda: api.get(f"/bundles/{bundle_id}").status_code == 200, within=5)


def held_bundle(site: Server, bundle_id: str):
    store = site.store()
    try:
        held = store.bundle(bundle_id)
    finally:
        store.dispose()
    assert held is not None
    return held.bundle


def test_the_preview_names_requirements_by_their_materials(site: Server, open_page) -> None:
    """`「居住证核发」照片`, not the requirement's id `「居住证核发」photo`."""
    permit = "000701001000"  # 居住证核发: requirements identity, photo, residence, condition
    page = open_page(site, "designer", javascript=False)
    page.goto(f"/pages/designer?items={permit}&items={PICKS[1]}&region={REGION}")
    shown = page.locator("#bring").inner_text() + page.locator("#waived").inner_text()
    assert "「居住证核发」照片" in shown
    for req in ("photo", "identity", "residence", "condition"):
        assert f"」{req}" not in page.locator("main").inner_text(), req
