"""The codes of §2: GB/T 2260 regions, GB 32100-2015 USCC, item and implementation codes.

Pure string functions, no catalog needed: each answers one question about one
code so that the rules, the fixture generator and the tests share them.
"""

from __future__ import annotations

from .model import LEVEL_DIGIT, LEVELS
from .words import level_name

NATIONAL = "000000"

# GB 32100-2015: 31 characters (no I, O, Z, S, V), weights 3^(i) mod 31.
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARS)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _digits(s: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts full-width ６ and superscript ², which no code uses."""
    return s.isascii() and s.isdigit()


def uscc_check_char(first17: str) -> str:
    """The check character for the first 17 characters of a USCC.

    Raises ValueError when a character is outside the GB 32100 alphabet.
    """
    if len(first17) != 17:
        raise ValueError(f"a USCC body has 17 characters, not {len(first17)}")
    try:
        total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    except KeyError as bad:
        raise ValueError(f"character {bad.args[0]!r} is not allowed in a USCC") from None
    return USCC_CHARS[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Why `code` is not a valid unified social credit code, or None when it is."""
    if len(code) != 18:
        return f"共 {len(code)} 位，统一社会信用代码应为 18 位"
    bad = [c for c in code if c not in _USCC_VALUE]
    if bad:
        return f"含有字符“{bad[0]}”，GB 32100 只允许 0-9 和除 I、O、S、V、Z 以外的大写字母"
    if not code[2:8].isdigit():
        return f"第 3-8 位应为 6 位数字的行政区划代码，却是“{code[2:8]}”"
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        return f"校验码为“{code[17]}”，按 GB 32100 应为“{expected}”"
    return None


REGION_LENGTH = {"township": 9, "village": 12}
"""Code lengths below the county (revision 3); every other level has GB/T 2260's 6 digits."""
COUNTY_DIGITS = 6
"""A region code this long or shorter stands at the county or above (GB/T 2260)."""


def region_code_problem(code: str, level: str) -> str | None:
    """Why a region code does not fit its level, or None when it does: GB/T 2260's 6 digits up
    to the county, the county's + `TTT` for a township, the township's + `VVV` for a village."""
    length = REGION_LENGTH.get(level, 6)
    if len(code) != length or not _digits(code):
        return f"编码“{code}”不是 {length} 位数字"
    pp, cc, xx = code[:2], code[2:4], code[4:6]
    county = pp != "00" and cc != "00" and xx != "00"
    shape = {
        "national": code == NATIONAL,
        "province": pp != "00" and cc == "00" and xx == "00",
        "city": pp != "00" and cc != "00" and xx == "00",
        "county": county,
        "township": county and code[6:9] != "000",
        "village": county and code[6:9] != "000" and code[9:12] != "000",
    }
    if not shape.get(level, False):
        return f"编码“{code}”不符合{level_name(level)}区划的编码形式（{_SHAPES[level]}）"
    return None


_SHAPES = {
    "national": "000000",
    "province": "PP0000",
    "city": "PPCC00，CC 不为 00",
    "county": "PPCCXX，XX 不为 00",
    "township": "县级区划编码 + TTT，TTT 不为 000",
    "village": "乡级区划编码 + VVV，VVV 不为 000",
}


def region_parent(code: str, level: str) -> str | None:
    """The parent a well-formed code of `level` implies."""
    if level == "national":
        return None
    if level == "province":
        return NATIONAL
    if level == "city":
        return code[:2] + "0000"
    if level == "township":
        return code[:6]
    if level == "village":
        return code[:9]
    return code[:4] + "00"


def region_level_of_code(code: str) -> str | None:
    """The level a code's shape implies, None when it has none."""
    for level in LEVELS:
        if region_code_problem(code, level) is None:
            return level
    return None


def province_of(code: str) -> str:
    """The province a region code lies in (`000000` for the nation)."""
    return NATIONAL if code == NATIONAL else code[:2] + "0000"


def item_code_problem(code: str, type_: str, owner: str, main: str | None) -> str | None:
    """Why a 12-digit item code disagrees with §2 or with its item, or None."""
    if len(code) != 12 or not _digits(code):
        return f"编码“{code}”不是 12 位数字"
    pp, tt, mmmmm, sss = code[:2], code[2:4], code[4:9], code[9:]
    want_pp = "00" if owner == NATIONAL else owner[:2]
    if pp != want_pp:
        return f"编码“{code}”以“{pp}”开头，按所属区划 {owner} 应为“{want_pp}”"
    if tt != type_:
        return f"编码“{code}”的类型位为“{tt}”，事项类型却是“{type_}”"
    if mmmmm == "00000":
        return f"编码“{code}”的主项序号为 00000，应在 00001-99999 之间"
    if main is None and sss != "000":
        return f"编码“{code}”的子项序号为“{sss}”，但该事项没有主项"
    if main is not None:
        if sss == "000":
            return f"编码“{code}”是主项编码（子项序号 000），但该事项的主项为 {main}"
        if code[:9] != main[:9]:
            return f"编码“{code}”的前 9 位与主项 {main} 不同"
    return None


def is_sub_item_code(code: str) -> bool:
    return len(code) == 12 and code[9:] != "000"


def implementation_code(uscc: str, level: str, item_code: str) -> str:
    """The 31-character implementation code: USCC · level digit · item code."""
    return uscc + LEVEL_DIGIT[level] + item_code


def region_prefix(code: str) -> str:
    """The prefix every region code under `code` starts with (GB/T 2260: a province PP0000 covers
    PP…, a city PPCC00 covers PPCC…, a county its 6 digits and the townships and villages under it;
    the nation everything)."""
    if len(code) != 6:
        return code
    if code == "000000":
        return ""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code
