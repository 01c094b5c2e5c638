"""The pages' Jinja2 environment (templates in `api/pages/templates/`) and the page response.

The pages render their own HTML rather than through an app-wide template
config, so mounting `ROUTES` is all `create_app` has to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType

from catalog.model import ITEM_TYPES

from .data import current_user, here

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

ROLE_NAMES = {"portal": "门户", "designer": "设计人员", "reviewer": "审查人员", "admin": "管理员"}
LEVEL_NAMES = {"national": "国家级", "province": "省级", "city": "市级", "county": "县级", "township": "乡级", "village": "村级"}
REASONS = {"internal": "内部流转", "e_license": "电子证照免提交", "commitment": "告知承诺"}
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
    rule_names=RULE_NAMES,
    kind_names=KIND_NAMES,
    check_names=CHECK_NAMES,
    check_failed=CHECK_FAILED,
    bundle_errors=BUNDLE_ERRORS,
)


def html(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    """A whole HTML page. `context` needs `page` (the nav entry), `title` and `snap` (or None)."""
    snap = context.get("snap")
    context.setdefault("user", current_user(request))
    context.setdefault(
        "header", snap.catalog.header if snap is not None and snap.catalog is not None else None
    )
    context.setdefault("request_path", here(request))
    body = env.get_template(template).render(**context)
    return Response(
        body,
        status_code=status_code,
        media_type=MediaType.HTML,
        cookies=cookies or [],
        headers={**(headers or {}), "Cache-Control": "no-store"},
    )
