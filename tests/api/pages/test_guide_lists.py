"""The citizen's guide as a citizen reads it, at 1366 and 390 px and printed: each material once,
in one of 要带的 / 视您的情况 / 不用带的; the visits, what is received and who may apply; no page
overflow and no serious or critical axe-core violation. Screenshots go to artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from bundler import compose_bundle
from bundler.bring import sort_materials

from .conftest import Server, printed, signed_in

pytestmark = pytest.mark.browser

GUIDES = [
    ("newborn", "640104", ()),  # 兴庆区: 居民身份证 was both 如有 and 不用带的
    ("newborn", "640521", ()),  # 中宁县: 结婚证 the same
    ("goji-geo-mark", "640521", ()),  # 产品检验报告 was both required and 如有
    ("restaurant", "640104", ()),  # a question left open: 视您的情况
    ("restaurant", "640104", (("premises", "lease"),)),
]
WIDTHS = (1366, 390)
LISTS = {"#checklist": "bring", "#situations": "depends", "#waived": "waived"}


def url(bundle: str, region: str, answers) -> str:
    return f"/pages/bundles/{bundle}/guide?region={region}" + "".join(f"&answer={q}:{a}" for q, a in answers)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_guide_says_each_material_once_and_passes_axe(
    site: Server, browser, artifacts: Path, width: int
) -> None:
    ctx, page = signed_in(browser, site, None, width=width, axe=True)  # a citizen: nobody signed in
    axe = Axe()
    problems = []
    try:
        for bundle, region, answers in GUIDES:
            address = url(bundle, region, answers)
            response = page.goto(address)
            assert response is not None and response.status == 200, address
            workflow = compose_bundle(site.catalog, bundle, region, answers=dict(answers))
            expected = sorted(
                (line.section, line.name) for line in sort_materials(workflow, site.catalog).lines()
            )
            shown = sorted(
                (kind, name)
                for selector, kind in LISTS.items()
                for name in page.locator(f"{selector} li .name").all_inner_texts()
            )
            assert shown == expected, address
            names = [name for _, name in shown]
            assert len(names) == len(set(names)), address
            summary = page.locator("#summary").inner_text()
            assert "跑动次数" in summary and "谁可以申请" in summary, address
            outcomes = page.locator("#outcomes").inner_text()
            assert all(s.name in outcomes for s in workflow.steps), address
            assert "窗口领取或邮寄" in page.locator("#handover").inner_text()

            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                problems.append(f"{address}: {scroll} px wide")
            for v in axe.run(page).response["violations"]:
                if v["impact"] in ("serious", "critical"):
                    problems.append(
                        f"{address}: {v['id']} ({v['impact']}) {[n['target'] for n in v['nodes'][:3]]}"
                    )
            shot = f"guide-{bundle}-{region}{'-answered' if answers else ''}-{width}.png"
            page.screenshot(path=str(artifacts / shot), full_page=True)
    finally:
        ctx.close()
    assert problems == [], "\n".join(problems)


def test_the_printed_guide_leads_with_what_to_bring(site: Server, browser, artifacts: Path) -> None:
    ctx, page = signed_in(browser, site, None, width=1366)
    try:
        page.goto(url("newborn", "640104", ()))
        assert page.locator("#visits").inner_text() == "最多跑一次"
        assert page.locator("main#guide").inner_text().count("居民身份证") == 1  # once, 不用带的
        pages = printed(page, artifacts, "guide-newborn-640104")
        assert not page.locator("#guide-toolbar").is_visible()
    finally:
        ctx.close()
    first, text = pages[0], "".join(pages)
    assert "最多跑一次" in first and "需要带的材料" in first and "住院分娩记录" in first
    assert "办结后您将取得" in text and "出生医学证明" in text
