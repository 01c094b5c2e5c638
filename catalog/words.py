"""Words people read, each once: the levels of government and their Chinese names, the token
roles and theirs, the Chinese label of every field of the format (the pages, the validation
messages and the approval page's change list all name a field from here), and how a moment is
written on a page (Beijing time). Stored moments stay as they are (UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Literal

from .model import LEVELS

LEVEL_NAMES: dict[str, str] = {
    "national": "国家级",
    "province": "省级",
    "city": "市级",
    "county": "县级",
    "township": "乡级",
    "village": "村级",
}
LEVEL_ORDER: dict[str, int] = {level: rank for rank, level in enumerate(LEVELS)}
"""National first: a smaller rank is a higher level."""

Role = Literal["portal", "designer", "reviewer", "admin", "agency"]
ROLES: tuple[Role, ...] = ("portal", "designer", "reviewer", "admin", "agency")
ROLE_NAMES: dict[str, str] = {
    "portal": "门户",
    "designer": "设计人员",
    "reviewer": "审查人员",
    "admin": "管理员",
    "agency": "办理部门",
}

FIELD_LABELS: dict[str, str] = {
    "kind": "记录类型",
    "format": "格式",
    "version": "版本",
    "title": "标题",
    "code": "编码",
    "name": "名称",
    "level": "层级",
    "parent": "上级区划",
    "id": "编号",
    "category": "类别",
    "aliases": "别名",
    "e_license": "电子证照",
    "commitment": "告知承诺",
    "retained": "留存",
    "label": "标签",
    "type": "类型",
    "choices": "选项",
    "text": "问题文本",
    "answers": "答案",
    "req": "材料要求",
    "any_of": "可选材料",
    "optional": "非必需",
    "deferrable": "可容缺",
    "when": "适用情形",
    "basis": "设定依据",
    "owner": "所属区划",
    "levels": "实施层级",
    "materials": "申请材料",
    "statutory_days": "法定办结时限",
    "promised_days": "承诺办结时限",
    "main": "主项",
    "outputs": "办理结果",
    "requires": "前置事项",
    "fields": "表单字段",
    "item": "事项",
    "region": "区划",
    "agency": "实施主体",
    "uscc": "统一社会信用代码",
    "visits": "跑动次数",
    "online_depth": "网办深度",
    "fee": "收费",
    "window": "受理窗口",
    "address": "办理地点",
    "hours": "办公时间",
    "phone": "咨询电话",
    "description": "说明",
    "regions": "提供区划",
    "items": "事项",
    "target_days": "目标办结时限",
    "channels": "办理渠道",
    "windows": "窗口",
    "assists": "代办事项",
    "location": "位置",
    "bundles": "一件事",
}

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
"""China has kept UTC+8 without summer time since 1991: a fixed offset needs no tz database."""


def level_name(level: str) -> str:
    """`省级` for `province`; an unknown level keeps its name."""
    return LEVEL_NAMES.get(level, level)


def role_name(role: str) -> str:
    """`审查人员` for `reviewer`; an unknown role keeps its name."""
    return ROLE_NAMES.get(role, role)


def field_label(field: str) -> str:
    """`承诺办结时限` for `promised_days`; a field without a label keeps its name."""
    return FIELD_LABELS.get(field, field)


def beijing(moment: datetime | str | None) -> str:
    """A stored moment (UTC; naive means UTC; or its ISO text) as people here read it:
    `2026-12-04 23:19` Beijing time. None → empty."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def beijing_today() -> date:
    return datetime.now(BEIJING).date()
