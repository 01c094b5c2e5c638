"""The pages' Jinja2 environment (templates in `api/pages/templates/`) and the page response.

The pages render their own HTML rather than through an app-wide template
config, so mounting `ROUTES` is all `create_app` has to do.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, NamedTuple, get_args

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType

from bundler.document import Reason
from bundler.render import REASONS as REASON_WORDS
from catalog.model import ITEM_TYPES
from catalog.words import LEVEL_NAMES, ROLE_NAMES, beijing

from .csrf import form_token, page_token
from .data import current_user, here

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


class WaiverReason(NamedTuple):
    label: str
    """The words the guide uses for it (`bundler.render.REASONS`)."""
    pill: str
    """The pill's colour class on the pages."""


_PILLS: dict[str, str] = {"internal": "blue", "e_license": "ok", "commitment": "warn", "merged_form": ""}
WAIVER_REASONS = {r: WaiverReason(REASON_WORDS[r], _PILLS[r]) for r in get_args(Reason)}
"""Every reason a material is waived for (`bundler.document.Reason`), its words and colour: a
reason without either fails here, at import, never as a page's 500."""
REASONS = {r: w.label for r, w in WAIVER_REASONS.items()}
RULE_NAMES = {
    "SCHEMA": "记录格式错误",
    "HEADER": "目录头错误",
    "DUPLICATE": "重复记录",
    "UNKNOWN_REF": "引用不存在",
    "REGION_CODE": "区划代码错误",
    "REGION_PARENT": "上级区划错误",
    "ITEM_CODE": "事项编码错误",
    "SUBITEM": "子项错误",
    "USCC": "统一社会信用代码错误",
    "IMPL_CODE": "实施编码不一致",
    "FOUR_SAME_NAME": "名称与基本目录不一致",
    "FOUR_SAME_TYPE": "类型与基本目录不一致",
    "FOUR_SAME_BASIS": "设定依据与基本目录不一致",
    "LEVEL": "实施层级不符",
    "SCOPE": "超出地方事项范围",
    "MATERIAL_ADDED": "增加了材料（只减不增）",
    "TIME_LIMIT": "办结时限错误",
    "CYCLE": "前置关系成环",
    "BUNDLE": "一件事定义错误",
    "ORPHAN_ITEM": "无实施清单的事项",
    "ONLINE_VISITS": "全程网办仍需到现场",
    "PROOF_DEMANDED": "索要清单外证明",
}
CHECK_NAMES = {
    "ONE_VISIT": "最多跑一次",
    "ONE_WINDOW": "一窗受理",
    "ONE_FORM": "一表申请",
    "PROOF": "不索要清单外证明",
    "TARGET_DAYS": "承诺时限内办结",
    "OFFERED": "本地可办",
}
"""The bundle checks of §4.1 by the standards' own words."""
CHECK_FAILED = {
    "ONE_VISIT": "需跑多次",
    "ONE_WINDOW": "多个窗口",
    "ONE_FORM": "另交申请表",
    "PROOF": "索要清单外证明",
    "TARGET_DAYS": "超出承诺时限",
    "OFFERED": "本地不提供",
}
"""What a failed check means, short enough for a matrix cell."""
BUNDLE_ERRORS = {
    "NOT_IMPLEMENTED": "有事项在此地无实施清单",
    "CYCLE": "事项前置关系成环",
    "UNKNOWN_ITEM": "含目录外事项",
    "UNKNOWN_REGION": "区划不存在",
    "UNKNOWN_BUNDLE": "一件事不存在",
    "UNKNOWN_ANSWER": "情形答案不存在",
}
KIND_NAMES = {
    "catalog": "目录头",
    "region": "区划",
    "material": "材料",
    "field": "字段",
    "item": "事项",
    "implementation": "实施清单",
    "bundle": "一件事",
    "unknown": "未知记录",
}

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals.update(
    item_types=ITEM_TYPES,
    role_names=ROLE_NAMES,
    level_names=LEVEL_NAMES,
    reasons=REASONS,
    waiver_reasons=WAIVER_REASONS,
    rule_names=RULE_NAMES,
    kind_names=KIND_NAMES,
    check_names=CHECK_NAMES,
    check_failed=CHECK_FAILED,
    bundle_errors=BUNDLE_ERRORS,
    form_token=form_token,
)
env.filters["beijing"] = beijing  # a stored moment (UTC) as `YYYY-MM-DD HH:MM`, Beijing time


def tel(phone: str) -> str:
    """A phone number as a `tel:` URI's number: digits, +, -, and the first number only
    (e.g. "0951-1234567 / 12345" → "0951-1234567")."""
    number = re.match(r"\s*(\+?[0-9][0-9\- ]*)", phone)
    return "" if number is None else number.group(1).strip().replace(" ", "")


env.filters["tel"] = tel


def said(message: str) -> str:
    """A service's message for people: without the API's field names in brackets, e.g.
    "不予受理须写明理由（note）。" → "不予受理须写明理由。"."""
    return re.sub(r"（[A-Za-z_.\-]+）", "", message)


env.filters["said"] = said


PAGES: dict[str, tuple[str, str | None]] = {
    # the catalog
    "regions.html": ("regions", "事项目录 · 行政区划"),
    "region.html": ("region", None),
    "places.html": ("region", None),
    "item.html": ("item", None),
    "implementation.html": ("implementation", None),
    # guides, bundles and their checks
    "bundles.html": ("bundles", "一件事与办事指南"),
    "guide_region.html": ("guide", None),
    "search.html": ("search", None),
    "designer.html": ("designer", "一件事设计"),
    "checks.html": ("checks", "一件事检查"),
    # cases
    "case_new.html": ("case-new", "一窗受理"),
    "case_receipt.html": ("case-new", "受理回执"),
    "case_status.html": ("case-status", "办件查询"),
    "case_figures.html": ("case-figures", "好差评"),
    # agencies
    "agency_tasks.html": ("agency-tasks", "部门办件"),
    "rectifications.html": ("rectifications", "整改"),
    # review, versions and submissions
    "review.html": ("review", "目录审查"),
    "versions.html": ("versions", "版本历史"),
    "diff.html": ("versions", None),
    "review_queue.html": ("versions", "待复核清单"),
    "submissions.html": ("submissions", "提交与审批"),
    "submission.html": ("submissions", None),
    # figures
    "stats.html": ("stats", "统计"),
    "advice.html": ("stats", "数字化建议"),
    # the rest
    "home.html": ("home", "首页"),
    "login.html": ("login", "登录"),
    "error.html": ("error", None),
}
"""Each page template's nav entry and, where it never changes, its title (`html` fills them in;
a page whose title depends on what it shows passes `title`)."""


def html(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    """A whole HTML page. `context` needs `page` (the nav entry, else `PAGES`'), `title` (else
    `PAGES`') and `snap` (or None);
    `catalog` is the snap's unless given."""
    page, title = PAGES.get(template, (None, None))
    if page is not None:
        context.setdefault("page", page)
    if title is not None:
        context.setdefault("title", title)
    snap = context.get("snap")
    catalog = snap.catalog if snap is not None else None
    context.setdefault("user", current_user(request))
    context.setdefault("catalog", catalog)
    context.setdefault("header", catalog.header if catalog is not None else None)
    context.setdefault("request_path", here(request))
    context.setdefault("form_token_value", page_token(request))
    body = env.get_template(template).render(**context)
    return Response(
        body,
        status_code=status_code,
        media_type=MediaType.HTML,
        cookies=cookies or [],
        headers={**(headers or {}), "Cache-Control": "no-store"},
    )
