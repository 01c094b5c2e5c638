"""The reviewers' lifecycle pages in a real browser with JavaScript off: version history, a diff
field by field, the needs-review queue with the item's change beside the implementation, and a
region's upload held as pending — its findings in the item comparison — then rejected, and a
fix approved and published. Screenshots go to `artifacts/`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from catalog.model import Catalog, record_encoder

from .conftest import RENAMED_ITEM, RENAMED_REGION, SLOW_REGION, Server, broken, ningxia, serve

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def lifecycle_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Its own server (the tests publish): the fixture, then a national rename (see `broken`)."""
    clean = ningxia()
    yield from serve(tmp_path_factory.mktemp("pages-lifecycle"), clean, broken(clean))


def region_file(path: Path, catalog: Catalog, region: str, **changes) -> Path:
    """The header and `region`'s implementations, those of RENAMED_ITEM with `changes`."""
    lines = [record_encoder.encode(catalog.header)]
    for _, impl in sorted(catalog.implementations.items()):
        if impl.region == region:
            if impl.item == RENAMED_ITEM:
                impl = msgspec.structs.replace(impl, **changes)
            lines.append(record_encoder.encode(impl))
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_versions_diff_and_review_queue(lifecycle_site: Server, open_page, artifacts: Path) -> None:
    page = open_page(lifecycle_site, "reviewer", javascript=False)
    page.goto("/")
    page.click(".topbar nav a[href='/pages/versions']")
    page.wait_for_url("**/pages/versions")
    rows = page.locator("#versions tbody tr")
    assert rows.count() == 2
    assert rows.first.get_attribute("data-version") == "2"
    assert "整个目录" in rows.first.inner_text()
    from catalog.words import beijing

    store = lifecycle_site.store()
    try:
        newest = store.versions()[-1]
    finally:
        store.dispose()
    assert beijing(newest.published_at) in rows.first.inner_text()  # Beijing time, not UTC
    assert "北京时间" in page.locator("#versions thead").inner_text()
    page.screenshot(path=str(artifacts / "page-versions.png"), full_page=True)

    with page.expect_navigation():
        page.click("#versions a[href='/pages/versions/1/diff/2']")
    item = lifecycle_site.catalog.items[RENAMED_ITEM]
    renamed = page.locator(f"#diff tr[data-key='{RENAMED_ITEM}'][data-field='name']")
    assert renamed.count() == 1
    old_name = item.name.removesuffix("（新）")
    assert old_name in renamed.inner_text() and item.name in renamed.inner_text()
    assert "修改" in page.locator("#diff").inner_text()
    # Records by name, fields by label: no format field names, no implementation codes.
    diff_text = page.locator("#diff").inner_text()
    assert "statutory_days" not in diff_text and "promised_days" not in diff_text
    assert not any(code in diff_text for code in lifecycle_site.catalog.implementations)
    assert "法定办结时限" in diff_text
    followed = next(
        i
        for _, i in sorted(lifecycle_site.catalog.implementations.items())
        if i.item == RENAMED_ITEM and i.region != RENAMED_REGION
    )
    region_name = lifecycle_site.catalog.regions[followed.region].name
    row = page.locator(f"#diff tr[data-key='{followed.code}']").first
    assert f"{region_name} · {item.name}" in row.inner_text()  # read from the store: not in memory
    page.screenshot(path=str(artifacts / "page-diff.png"), full_page=False)

    page.goto(f"/pages/review-queue?region={RENAMED_REGION}")
    flagged = page.locator("#queue tbody tr[data-key]")
    assert flagged.count() >= 1
    row = flagged.first
    cause = row.locator("td.cause li[data-field='name']").inner_text()
    assert old_name in cause and item.name in cause  # the item's change …
    assert old_name in row.locator("li[data-impl-field='name']").inner_text()  # … beside the implementation
    assert "名称与基本目录不一致" in row.inner_text()
    page.screenshot(path=str(artifacts / "page-review-queue.png"), full_page=True)


def test_upload_is_held_with_findings_then_rejected_and_a_fix_approved(
    lifecycle_site: Server, open_page, artifacts: Path, tmp_path: Path
) -> None:
    catalog = lifecycle_site.catalog
    item = catalog.items[RENAMED_ITEM]
    page = open_page(lifecycle_site, "reviewer", javascript=False)
    store = lifecycle_site.store()
    try:
        before = store.revision()
        # A wrong upload: the renamed item's implementation gets a name of its own, over the statutory days.
        wrong = region_file(
            tmp_path / "wrong.jsonl",
            catalog,
            RENAMED_REGION,
            name="自拟名称",
            promised_days=item.statutory_days + 9,
        )
        page.goto("/pages/submissions")
        page.select_option("select[name=region]", RENAMED_REGION)
        page.fill("input[name=note]", "兴庆区自拟名称")
        page.set_input_files("input[name=file]", str(wrong))
        with page.expect_navigation():
            page.click("#upload button[type=submit]")
        assert "/pages/submissions/" in page.url
        assert page.locator("#state").inner_text() == "待审批"
        table = page.locator(f"table.compare[data-item='{RENAMED_ITEM}']")
        assert "名称与基本目录不一致" in table.locator("td[data-row='name']").first.inner_text()
        assert "dev" in (table.locator("td[data-row='name']").first.get_attribute("class") or "")
        assert page.locator("#approve").count() == 0 and page.locator("#no-approve").is_visible()
        assert store.revision() == before  # held: nothing published
        page.screenshot(path=str(artifacts / "page-upload.png"), full_page=True)
        page.fill("input[name=reason]", "名称须与基本目录一致")
        with page.expect_navigation():
            page.click("#reject")
        assert page.locator("#state").inner_text() == "已驳回" and "名称须与基本目录一致" in page.content()

        # The fix: follow the national rename. It publishes on approval and clears the flag.
        fix = region_file(tmp_path / "fix.jsonl", catalog, RENAMED_REGION, name=item.name)
        page.goto("/pages/submissions")
        page.select_option("select[name=region]", RENAMED_REGION)
        page.set_input_files("input[name=file]", str(fix))
        with page.expect_navigation():
            page.click("#upload button[type=submit]")
        assert "修改 1" in page.locator("#check").inner_text()
        renamed = page.locator("#change-list li[data-field='name']")
        assert renamed.count() == 1 and item.name in renamed.inner_text()
        # Four eyes: its submitter cannot approve it; another reviewer does.
        assert page.locator("#approve").count() == 0 and page.locator("#four-eyes").is_visible()
        sid = page.url.rsplit("/", 1)[-1]
        lifecycle_site.tokens.setdefault("second-reviewer", store.create_token("第二审查员", "reviewer"))
        other = open_page(lifecycle_site, "second-reviewer", javascript=False)
        other.goto(f"/pages/submissions/{sid}")
        assert other.locator("#four-eyes").count() == 0
        with other.expect_navigation():
            other.click("#approve")
        assert other.locator("#state").inner_text() == "已批准"
        assert store.revision() == before + 1
        assert store.versions()[-1].region == RENAMED_REGION and store.versions()[-1].by == "第二审查员"
        assert store.versions()[-1].note == f"提交 #{sid}，提交人 pages-reviewer"
        page.goto(f"/pages/review-queue?region={RENAMED_REGION}")
        assert page.locator("#queue tbody tr[data-key]").count() == 0
        states = page.goto("/pages/submissions") and page.locator("#submissions tbody tr").all_inner_texts()
        assert any("已批准" in s for s in states) and any("已驳回" in s for s in states)
    finally:
        store.dispose()


def test_the_lifecycle_pages_ask_for_a_reviewer(lifecycle_site: Server, open_page) -> None:
    page = open_page(lifecycle_site, "designer", javascript=False)
    response = page.goto("/pages/versions")
    assert response is not None and response.status == 403


SHEET_REGION = "640105"  # 西夏区: untouched by the other tests here


@pytest.mark.parametrize("width", (1366, 390))
def test_a_sheet_downloads_and_comes_back_through_the_submissions_page(
    lifecycle_site: Server, browser, artifacts: Path, tmp_path: Path, width: int
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    from catalog.sheet import DATA_SHEET
    from tests.catalog.sheets import cells, index, workbook

    from .test_phone_and_a11y import context

    ctx, page = context(browser, lifecycle_site, width, role="reviewer")
    store = lifecycle_site.store()
    try:
        page.goto("/pages/submissions")
        # the download is reached with the keyboard alone
        page.locator("#download select[name=region]").focus()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "download-xlsx"
        page.select_option("#download select[name=region]", SHEET_REGION)
        with page.expect_download() as caught:
            page.keyboard.press("Enter")
        download = caught.value
        assert download.suggested_filename == f"实施清单-{SHEET_REGION}-v{store.revision()}.xlsx"
        sheet = tmp_path / "sheet.xlsx"
        download.save_as(sheet)

        book = cells(sheet)
        rows = book[DATA_SHEET]
        n = next(i for i, r in enumerate(rows) if i and r[index("实施编码")])
        rows[n][index("承诺办结时限")] = 0
        before = store.revision()
        page.select_option("#upload select[name=region]", SHEET_REGION)
        page.set_input_files("#upload input[name=file]", str(workbook(tmp_path / "filled.xlsx", book)))
        with page.expect_navigation():
            page.click("#upload button[type=submit]")
        assert "/pages/submissions/" in page.url and page.locator("#state").inner_text() == "待审批"
        assert "修改 1" in page.locator("#check").inner_text()

        # a merged cell: nothing held, the cell named on the page
        held = store.submissions()[0]
        merged = workbook(
            tmp_path / "merged.xlsx", book, merged=((n, index("受理窗口"), n, index("办理地点")),)
        )
        page.goto("/pages/submissions")
        page.select_option("#upload select[name=region]", SHEET_REGION)
        page.set_input_files("#upload input[name=file]", str(merged))
        with page.expect_navigation() as answer:
            page.click("#upload button[type=submit]")
        assert answer.value is not None and answer.value.status == 422
        assert "表格无法读取" in page.locator("#error").inner_text()
        row = page.locator(f"#sheet-findings tr[data-row='{n + 1}']")
        assert row.count() == 1 and "合并" in row.inner_text() and "受理窗口" in row.inner_text()
        assert store.submissions()[0] == held and store.revision() == before
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width
        violations = [
            v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in ("serious", "critical")
        ]
        assert violations == []
        page.screenshot(path=str(artifacts / f"page-sheet-{width}.png"), full_page=True)

        # a name that breaks 四同: held, and its page says it cannot be published, wrapped to fit
        rows[n][index("事项名称")] = "改过的名称"
        page.goto("/pages/submissions")
        page.select_option("#upload select[name=region]", SHEET_REGION)
        page.set_input_files("#upload input[name=file]", str(workbook(tmp_path / "renamed.xlsx", book)))
        with page.expect_navigation():
            page.click("#upload button[type=submit]")
        assert "不能发布" in page.locator("main").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        store.dispose()
        ctx.close()


FOOD = "食品经营许可"


def food_impl(catalog: Catalog):
    """RENAMED_REGION's 食品经营许可 implementation."""
    return next(
        i
        for _, i in sorted(catalog.implementations.items())
        if i.region == RENAMED_REGION and catalog.items[i.item].name == FOOD
    )


def submit(site: Server, role: str, path: Path, query: str = "") -> str:
    """Submit the list at `path` for RENAMED_REGION as `role`: the submission's id."""
    with site.api(role) as api:
        r = api.post(
            f"/submissions?region={RENAMED_REGION}{query}",
            content=path.read_bytes(),
            headers={"Content-Type": "application/x-ndjson"},
        )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def food_file(path: Path, catalog: Catalog, region: str, days: int, phone: str) -> tuple[Path, int]:
    """`region`'s list (as the store has it now) with its 食品经营许可 promising `days` days and
    answering at `phone`; and the days it promised before."""
    lines = [record_encoder.encode(catalog.header)]
    before = -1
    for _, impl in sorted(catalog.implementations.items()):
        if impl.region != region:
            continue
        if catalog.items[impl.item].name == FOOD:
            before = impl.promised_days
            impl = msgspec.structs.replace(impl, promised_days=days, phone=phone)
        lines.append(record_encoder.encode(impl))
    assert before >= 0
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path, before


@pytest.mark.parametrize("width", (1366, 390))
def test_the_approval_page_leads_with_the_changes_by_name_and_four_eyes(
    lifecycle_site: Server, browser, artifacts: Path, tmp_path: Path, width: int
) -> None:
    """The approval page at 1366 and 390 px: the changes first, named as people know them
    (兴庆区 · 食品经营许可 · 承诺办结时限 9 → 7), then the decision; the changed cells marked in
    the comparison; no format field names or implementation codes; Beijing time; axe clean.
    Its submitter is told four eyes and offered no approval; another reviewer approves it."""
    from axe_playwright_python.sync_playwright import Axe

    from catalog.words import beijing

    from .test_phone_and_a11y import context

    store = lifecycle_site.store()
    lifecycle_site.tokens.setdefault("second-reviewer", store.create_token("第二审查员", "reviewer"))
    contexts = []
    try:
        current = store.catalog()
        impl = food_impl(current)
        days = impl.promised_days - 2 if impl.promised_days >= 2 else impl.promised_days + 2
        path, before = food_file(tmp_path / "food.jsonl", current, RENAMED_REGION, days, f"0951-{width}")
        sid = submit(lifecycle_site, "reviewer", path, "&note=压缩办结时限")
        held = store.submission(sid)
        assert held is not None

        # The submitter: told four eyes, no approve button.
        ctx, mine = context(browser, lifecycle_site, width, role="reviewer")
        contexts.append(ctx)
        mine.goto(f"/pages/submissions/{sid}")
        assert "四眼原则" in mine.locator("#four-eyes").inner_text()
        assert mine.locator("#approve").count() == 0 and mine.locator("#reject").count() == 1

        # Another reviewer: the changes, then the decision.
        ctx, page = context(browser, lifecycle_site, width, role="second-reviewer")
        contexts.append(ctx)
        page.goto(f"/pages/submissions/{sid}")
        assert page.locator("#four-eyes").count() == 0
        lines = page.locator("#change-list li").all_inner_texts()
        region = current.regions[RENAMED_REGION].name
        assert f"{region} · {FOOD} · 承诺办结时限 {before} → {days}" in lines
        assert f"{region} · {FOOD} · 咨询电话 {impl.phone or '（空）'} → 0951-{width}" in lines
        order = page.evaluate(
            "document.querySelector('#change-list').compareDocumentPosition("
            "document.querySelector('#approve')) & Node.DOCUMENT_POSITION_FOLLOWING"
        )
        assert order, "the decision comes after the changes"
        first_table = page.locator("table.compare").first
        assert page.evaluate(
            "(t) => document.querySelector('#approve').compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING",
            first_table.element_handle(),
        ), "the long tables come after the decision"
        days_cell = page.locator(f"table.compare th[data-impl='{impl.code}']")
        assert days_cell.count() == 1
        marked = page.locator("table.compare td.changed[data-row='days']")
        assert marked.count() == 1 and f"原承诺办结时限 {before}" in marked.inner_text()
        assert (
            f"咨询电话 原：{impl.phone}"
            in page.locator("table.compare td.changed[data-row='other']").inner_text()
        )
        main = page.locator("main").inner_text()
        for word in ("promised_days", "phone", impl.code):
            assert word not in page.locator("#changes").inner_text(), word
        assert beijing(held[0].submitted_at) in main and "北京时间" in main and "UTC" not in main
        # The findings name their records too (an implementation elsewhere, read from the store).
        records = page.locator("#findings tbody td:nth-child(3)").all_inner_texts()
        assert records and not any(code in r for r in records for code in current.implementations)
        slow = current.regions[SLOW_REGION].name
        assert any(r.startswith(f"{slow} · ") for r in records), records  # its TIME_LIMIT finding

        assert page.evaluate("document.documentElement.scrollWidth") <= width
        violations = [
            (v["id"], [n["target"] for n in v["nodes"]][:3])
            for v in Axe().run(page).response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert violations == []
        page.screenshot(path=str(artifacts / f"page-approval-{width}.png"), full_page=True)

        with page.expect_navigation():
            page.click("#approve")
        assert page.locator("#state").inner_text() == "已批准"
        assert store.revision() == held[1].based_on + 1
        assert store.versions()[-1].note == f"压缩办结时限（提交 #{sid}，提交人 pages-reviewer）"
    finally:
        for ctx in contexts:
            ctx.close()
        store.dispose()


def test_an_admin_may_override_four_eyes_on_the_page_and_it_is_audited(
    lifecycle_site: Server, open_page, tmp_path: Path
) -> None:
    store = lifecycle_site.store()
    try:
        current = store.catalog()
        impl = food_impl(current)
        path, _ = food_file(tmp_path / "own.jsonl", current, RENAMED_REGION, impl.promised_days, "0951-1")
        sid = submit(lifecycle_site, "admin", path)
        before = store.revision()
        page = open_page(lifecycle_site, "admin", javascript=False)
        page.goto(f"/pages/submissions/{sid}")
        assert "管理员" in page.locator("#four-eyes").inner_text()
        box = page.locator("#decision input[name=override]")
        assert box.count() == 1 and box.get_attribute("required") is not None
        # Without ticking it (the form's `required` lifted): refused, said in Chinese, nothing published.
        box.evaluate("b => b.removeAttribute('required')")
        with page.expect_navigation() as answer:
            page.click("#approve")
        assert answer.value is not None and answer.value.status == 403
        assert "四眼原则" in page.locator("#error").inner_text() and store.revision() == before
        page.locator("#decision input[name=override]").check()
        with page.expect_navigation():
            page.click("#approve")
        assert page.locator("#state").inner_text() == "已批准" and store.revision() == before + 1
        override = store.audit(action="approve.override", limit=1)[1]
        assert override and override[0].target == f"submission {sid}" and override[0].by == "pages-admin"
    finally:
        store.dispose()
