"""Typed checks of form values (§7.1 `FORM`): each returns None when the value fits its type,
else the reason in Chinese."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

_ID = re.compile(r"\d{17}[\dX]")
_WEIGHTS = [2 ** (17 - i) % 11 for i in range(17)]
_CHECK = "10X98765432"
_MOBILE = re.compile(r"1\d{10}")
_LANDLINE = re.compile(r"0\d{2,3}-?[1-9]\d{6,7}(-\d{1,6})?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def id_check_character(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of a resident ID (ISO 7064 MOD 11-2)."""
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def id_number(value: str) -> str | None:
    value = value.strip()
    if len(value) != 18:
        return f"公民身份号码应为18位，这里是{len(value)}位"
    if not _ID.fullmatch(value.upper()):
        return "公民身份号码前17位应为数字，末位为数字或X"
    try:
        date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "公民身份号码中的出生日期不存在"
    if id_check_character(value[:17]) != value[17].upper():
        return "公民身份号码校验码不符（GB 11643）"
    return None


def phone(value: str) -> str | None:
    value = value.strip().replace(" ", "")
    if _MOBILE.fullmatch(value) or _LANDLINE.fullmatch(value):
        return None
    return "应为11位手机号码（以1开头），或带区号的固定电话（如0951-1234567）"


def iso_date(value: str) -> str | None:
    if _ISO_DATE.fullmatch(value.strip()):
        try:
            date.fromisoformat(value.strip())
            return None
        except ValueError:
            return "日期不存在"
    return "日期应写作YYYY-MM-DD（如2026-12-01）"


def number(value: object) -> str | None:
    if isinstance(value, bool):
        return "应为数字"
    if isinstance(value, int | float) or _NUMBER.fullmatch(str(value).strip()):
        return None
    return "应为数字"


def choice(value: str, choices: Sequence[str]) -> str | None:
    if value in choices:
        return None
    return f"应为以下之一：{'、'.join(choices)}"


def check(kind: str, value: object, choices: Sequence[str] | None = None) -> str | None:
    """Why `value` does not fit a field of type `kind` (§1 field types), or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "必填，未填写"
    if kind == "number":
        return number(value)
    if not isinstance(value, str):
        return "应为文字"
    if kind == "id_number":
        return id_number(value)
    if kind == "phone":
        return phone(value)
    if kind == "date":
        return iso_date(value)
    if kind == "choice":
        return choice(value, choices or [])
    return None
