"""The pages of cases in Chromium at 1366 and 390 px: no page wider than the screen and no serious
or critical axe-core violation on the clerk's page, the receipt, the status page, the agency's
queue, the rectifications and the public figures; a case handed in with the keyboard alone.
Screenshots go to artifacts/ (cases-*.png)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from pypdf import PdfReader

from catalog.store.cases import Sealer
from tests.api.case_helpers import AGENCIES, NEWBORN

from .conftest import Server, fit_and_axe, ningxia, serve
from .test_phone_and_a11y import context

pytestmark = pytest.mark.browser

NEW = "/pages/cases/new?bundle=newborn&region=640104&answer=wants-social-card:yes"


@pytest.fixture(scope="module")
def case_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The clean fixture served with a case key, and a token for each agency of 新生儿出生."""
    old = os.environ.get("ONETHING_CASE_KEY")
    os.environ["ONETHING_CASE_KEY"] = Sealer.new_key()
    try:
        for server in serve(tmp_path_factory.mktemp("pages-cases"), ningxia()):
            store = server.store()
            for name, uscc in AGENCIES.items():
                server.tokens[name] = store.create_token(f"pages-agency-{name}", "agency", agency=uscc)
            store.dispose()
            yield server
    finally:
        if old is None:
            os.environ.pop("ONETHING_CASE_KEY", None)
        else:
            os.environ["ONETHING_CASE_KEY"] = old


def fill_hand_in(page) -> None:
    body = NEWBORN
    for key, value in body["applicant"].items():
        page.fill(f"input[name='applicant.{key}']", value)
    for key, value in body["form"].items():
        selector = f"[name='f.{key}']"
        if page.locator(f"select{selector}").count():
            page.select_option(selector, value)
        else:
            page.fill(selector, str(value))
    for material, mark in body["materials"].items():
        page.check(f"input[name='m.{material}'][value='{mark}']")
    page.check("#consent")


@pytest.mark.parametrize("width", (1366, 390))
def test_the_case_pages_fit_pass_axe_and_are_shot(
    case_site: Server, browser, artifacts: Path, width: int
) -> None:
    name = "desktop" if width > 700 else "phone"
    axe = Axe()
    problems: list[str] = []

    def shot(page, what: str) -> None:
        page.screenshot(path=str(artifacts / f"cases-{what}-{name}.png"), full_page=True)

    ctx, page = context(browser, case_site, width, role="portal")
    try:
        page.goto(NEW)
        problems += fit_and_axe(page, "clerk", width, axe)
        shot(page, "clerk")
        # a refusal first: everything but the consent to fetch e-licenses
        fill_hand_in(page)
        page.uncheck("#consent")
        page.click("#submit-case")
        assert page.locator("#refusal[data-code=CONSENT]").count() == 1
        problems += fit_and_axe(page, "refusal", width, axe)
        shot(page, "refusal")
        page.check("#consent")
        page.click("#submit-case")
        page.locator("#receipt").wait_for()
        problems += fit_and_axe(page, "receipt", width, axe)
        shot(page, "receipt")
        case_id = page.locator("#case-number").inner_text()
        access = page.locator("#access-code").inner_text()
        if width > 700:
            page.emulate_media(media="print")
            pdf = page.pdf(format="A4", print_background=True)
            (artifacts / "cases-receipt.pdf").write_bytes(pdf)
            assert len(PdfReader(BytesIO(pdf)).pages) == 1, "the receipt prints on one A4 page"
    finally:
        ctx.close()

    ctx, page = context(browser, case_site, width, role=None)
    try:
        page.goto("/pages/cases/status?case=" + case_id)
        problems += fit_and_axe(page, "status form", width, axe)
        page.fill("#access", access)
        page.click("#lookup button[type=submit]")
        page.locator("#progress").wait_for()
        assert access not in page.url
        problems += fit_and_axe(page, "status", width, axe)
        shot(page, "status")
        page.goto("/pages/cases/figures?region=640000")
        problems += fit_and_axe(page, "figures", width, axe)
        shot(page, "figures")
    finally:
        ctx.close()

    ctx, page = context(browser, case_site, width, role="health")
    try:
        page.goto("/pages/agency/tasks")
        assert page.locator(".task-card").count() >= 1
        problems += fit_and_axe(page, "agency", width, axe)
        shot(page, "agency")
        page.goto("/pages/rectifications")
        problems += fit_and_axe(page, "rectifications", width, axe)
    finally:
        ctx.close()
    assert problems == [], "\n".join(problems)


def test_hand_in_with_the_keyboard_alone(case_site: Server, browser) -> None:
    ctx, page = context(browser, case_site, 1366, role="portal")
    try:
        page.goto(NEW)

        def focus(selector: str) -> None:
            for _ in range(200):
                if page.evaluate(f"document.activeElement === document.querySelector({selector!r})"):
                    return
                page.keyboard.press("Tab")
            raise AssertionError(f"{selector} is not reachable with Tab")

        body = NEWBORN
        for key, value in body["applicant"].items():
            focus(f"input[name='applicant.{key}']")
            page.keyboard.type(value)
        for key, value in body["form"].items():
            selector = f"[name='f.{key}']"
            focus(selector)
            kind = page.evaluate(f"document.querySelector({selector!r}).type")
            if kind == "select-one":
                page.select_option(selector, value)  # the keyboard's choice, made at once
            elif kind == "date":  # the segments in the browser's locale order, each typed in full
                year, month, day = value.split("-")
                for order in (month + day + year, year, day + month + year):
                    page.keyboard.type(order)
                    if order == year:
                        page.keyboard.press("ArrowRight")
                        page.keyboard.type(month + day)
                    if page.evaluate(f"document.querySelector({selector!r}).value") == value:
                        break
                    page.evaluate(f"document.querySelector({selector!r}).value = ''")
                    page.keyboard.press("Shift+Tab")
                    page.keyboard.press("Tab")
                assert page.evaluate(f"document.querySelector({selector!r}).value") == value
            else:
                page.keyboard.type(str(value))
        for material in body["materials"]:
            focus(f"input[name='m.{material}']:checked")  # a radio group is one Tab stop
            while not page.evaluate(
                f"document.querySelector(\"input[name='m.{material}'][value=handed]\").checked"
            ):
                page.keyboard.press("ArrowUp")
        focus("#consent")
        page.keyboard.press("Space")
        focus("#submit-case")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("#receipt").count() == 1, page.locator("#refusal").inner_text()
        assert re.fullmatch(r"640104-\d{8}-\d{4}", page.locator("#case-number").inner_text())
    finally:
        ctx.close()
