"""How findings name things to the clerks who read them: in Chinese, by the names and codes
staff know (an item by name and code, an implementation by its 实施编码, a field of the format
by its Chinese label with the field name in parentheses)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .words import FIELD_LABELS

KIND_NAMES = {
    "catalog": "文件头",
    "region": "区划",
    "material": "材料",
    "field": "表单字段",
    "question": "问题",
    "item": "事项",
    "implementation": "实施清单",
    "bundle": "一件事",
    "service_point": "服务场所",
    "unknown": "记录",
}


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, kind)


def field_name(field: str) -> str:
    """`承诺办结时限（promised_days）`, or the bare field name for one without a label."""
    label = FIELD_LABELS.get(field)
    return f"{label}（{field}）" if label else field


def quoted(value: object) -> str:
    return f"“{value}”"


def listed(values: Iterable[object]) -> str:
    return "、".join(f"“{v}”" for v in values)


def named(kind: str, key: str | None, name: str | None = None) -> str:
    """`事项“食品经营许可”（000100035000）`, `实施清单 1164…001`, `区划“银川市”（640100）`."""
    if name:
        return f"{kind_name(kind)}“{name}”（{key}）" if key else f"{kind_name(kind)}“{name}”"
    return f"{kind_name(kind)} {key}" if key else kind_name(kind)


def duplicate_message(kind: str, key: str, first: int | None, name: str | None = None) -> str:
    """The DUPLICATE message: the record, where it was first defined, and which one counts."""
    where = f"第 {first} 行" if first is not None else "文件前面"
    return f"{spaced(named(kind, key, name))}重复定义（{where}已定义过），只保留第一条。"


def spaced(text: str) -> str:
    """A space between a trailing code and the Chinese that follows it."""
    return f"{text} " if text[-1:].isascii() else text


_TYPES = {
    "int": "整数",
    "str": "文本",
    "float": "数字",
    "bool": "布尔值（true 或 false）",
    "object": "对象",
    "array": "数组",
    "null": "空值（null）",
}
_BOUNDS = {">=": "不小于", "<=": "不大于", ">": "大于", "<": "小于"}
_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")
_BOUND = re.compile(r"^Expected `(?P<want>[^`]+)` (?P<op>>=|<=|>|<) (?P<n>\S+)$")
_LENGTH = re.compile(r"^Expected `(?P<want>[^`]+)` of length (?P<op>>=|<=|>|<) (?P<n>\S+)$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$")
_ENUM = re.compile(r"^Invalid enum value (?P<value>.+)$")
_VALUE = re.compile(r"^Invalid value (?P<value>.+)$")
_BYTE = re.compile(r"\(byte (?P<byte>\d+)\)")


def _type(name: str) -> str:
    return "或".join(_TYPES.get(part, part) for part in name.split(" | "))


def _path(path: str) -> str:
    """`$.agency.uscc` → `统一社会信用代码（agency.uscc）`; the record itself → `记录`."""
    path = path.lstrip(".")
    if not path:
        return "记录"
    last = re.sub(r"\[\d+\]", "", path.rsplit(".", 1)[-1])
    label = FIELD_LABELS.get(last)
    return f"字段 {label}（{path}）" if label else f"字段 {path}"


def _value(text: str) -> str:
    return text.strip("'\"")


def decode_problem(text: str) -> str:
    """msgspec's English error text in Chinese, naming the field path: `Expected `int`, got `str`
    - at `$.visits`` → `字段 跑动次数（visits）应为整数，却是文本`. A text it does not know is kept."""
    at = _AT.search(text)
    path = at.group("path") if at else ""
    body = text[: at.start()] if at else text
    if m := _EXPECTED.match(body):
        return f"{_path(path)}应为{_type(m['want'])}，却是{_type(m['got'])}"
    if m := _LENGTH.match(body):
        unit = "个字符" if m["want"] == "str" else "项"
        return f"{_path(path)}的长度应{_BOUNDS[m['op']]} {m['n']} {unit}"
    if m := _BOUND.match(body):
        return f"{_path(path)}应为{_BOUNDS[m['op']]} {m['n']} 的{_type(m['want'])}"
    if m := _MISSING.match(body):
        full = f"{path.lstrip('.')}.{m['field']}" if path.lstrip(".") else m["field"]
        return f"缺少必填的{_path(full)}"
    if m := _UNKNOWN.match(body):
        full = f"{path.lstrip('.')}.{m['field']}" if path.lstrip(".") else m["field"]
        return f"有格式中没有的{_path(full)}"
    if m := _ENUM.match(body):
        return f"{_path(path)}的取值“{_value(m['value'])}”不在允许的取值之中"
    if m := _VALUE.match(body):
        if path == ".kind":
            return f"记录类型（kind）“{_value(m['value'])}”未知"
        return f"{_path(path)}的取值“{_value(m['value'])}”无效"
    if body == "Input data was truncated":
        return "不是完整的 JSON（在结尾处中断）"
    if body.startswith("JSON is malformed"):
        byte = _BYTE.search(body)
        return f"不是合法的 JSON（第 {int(byte['byte']) + 1} 个字节附近有误）" if byte else "不是合法的 JSON"
    return text
