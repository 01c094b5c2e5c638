"""The pages' own tables of names and their small helpers, no server needed."""

from __future__ import annotations

from typing import get_args

from api.pages.data import record_href, safe_next
from api.pages.render import KIND_NAMES, REASONS, RULE_NAMES, WAIVER_REASONS
from bundler.document import Reason
from catalog.findings import RULES


def test_every_rule_and_waiver_has_a_chinese_name() -> None:
    assert set(RULE_NAMES) == set(RULES)
    assert set(REASONS) == set(WAIVER_REASONS) == set(get_args(Reason))
    assert REASONS["merged_form"] == "一表申请" and WAIVER_REASONS["commitment"].pill == "warn"
    assert {"region", "item", "implementation", "bundle"} <= set(KIND_NAMES)


def test_after_signing_in_the_visitor_stays_on_this_site() -> None:
    assert safe_next("/pages/items/1?x=2") == "/pages/items/1?x=2"
    for elsewhere in ("https://evil.example/", "//evil.example/", "/\\evil.example", "", None):
        assert safe_next(elsewhere) == "/"


def test_a_finding_links_to_its_record() -> None:
    assert record_href("implementation", "11640104MB0000006B4000700001000") == (
        "/pages/implementations/11640104MB0000006B4000700001000"
    )
    assert record_href("bundle", "new born") == "/pages/designer?bundle=new%20born"
    assert record_href("catalog", None) is None
