"""Property tests for the codes of §2 (catalog/codes.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.codes import (
    USCC_CHARS,
    implementation_code,
    is_sub_item_code,
    item_code_problem,
    province_of,
    region_code_problem,
    region_level_of_code,
    region_parent,
    uscc_check_char,
    uscc_problem,
)

REAL_USCC = ["91350200776049653A", "11650000010183859F"]

digits = st.text("0123456789", min_size=1, max_size=1)
uscc_char = st.sampled_from(USCC_CHARS)
# a plausible body: registration authority and type, a 6-digit region code, a 9-character organisation code
uscc_body = st.builds(
    lambda head, region, org: head + region + org,
    st.text(USCC_CHARS, min_size=2, max_size=2),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(USCC_CHARS, min_size=9, max_size=9),
)


@given(uscc_body)
def test_uscc_with_computed_check_char_is_valid(body):
    assert uscc_problem(body + uscc_check_char(body)) is None


@given(uscc_body, st.integers(0, 17), uscc_char)
def test_uscc_any_single_change_is_invalid(body, position, replacement):
    code = body + uscc_check_char(body)
    if code[position] == replacement:
        replacement = USCC_CHARS[(USCC_CHARS.index(replacement) + 1) % len(USCC_CHARS)]
    if 2 <= position < 8 and not replacement.isdigit():
        replacement = str((int(code[position]) + 1) % 10)  # keep the region part digits: test the check char
    changed = code[:position] + replacement + code[position + 1 :]
    assert changed != code
    assert uscc_problem(changed) is not None


@pytest.mark.parametrize("code", REAL_USCC)
def test_real_uscc_codes_are_valid(code):
    assert uscc_check_char(code[:17]) == code[17]
    assert uscc_problem(code) is None


@pytest.mark.parametrize("code", REAL_USCC)
def test_every_single_character_flip_of_a_real_code_is_invalid(code):
    for position in range(18):
        for c in USCC_CHARS:
            if c != code[position]:
                flipped = code[:position] + c + code[position + 1 :]
                assert uscc_problem(flipped) is not None, flipped


@pytest.mark.parametrize(
    "code,why",
    [
        ("91350200776049653", "共 17 位，统一社会信用代码应为 18 位"),
        ("91350200776049653AA", "共 19 位"),
        ("9135020077604965IA", "含有字符“I”"),
        ("91ABCDEF776049653A", "行政区划代码，却是“ABCDEF”"),
        ("91350200776049653B", "校验码为“B”，按 GB 32100 应为"),
    ],
)
def test_uscc_problems_say_why(code, why):
    problem = uscc_problem(code)
    assert problem is not None and why in problem


def test_uscc_check_char_rejects_bad_bodies():
    with pytest.raises(ValueError):
        uscc_check_char("1234")
    with pytest.raises(ValueError):
        uscc_check_char("9135020077604965I")


# -- regions ------------------------------------------------------------------------------

pp = st.integers(11, 99).map(lambda n: f"{n:02d}")
nonzero2 = st.integers(1, 99).map(lambda n: f"{n:02d}")


@given(pp, nonzero2, nonzero2)
def test_region_shapes_and_parents(p, c, x):
    province, city, county = p + "0000", p + c + "00", p + c + x
    assert region_code_problem(province, "province") is None
    assert region_code_problem(city, "city") is None
    assert region_code_problem(county, "county") is None
    assert region_parent(county, "county") == city
    assert region_parent(city, "city") == province
    assert region_parent(province, "province") == "000000"
    assert [region_level_of_code(code) for code in (province, city, county)] == ["province", "city", "county"]
    assert province_of(county) == province_of(city) == province
    for code, level in (
        (province, "city"),
        (city, "county"),
        (county, "city"),
        (county, "province"),
        (city, "national"),
    ):
        assert region_code_problem(code, level) is not None


def test_pp90xx_counties_sit_under_a_grouping_city():
    assert region_code_problem("659001", "county") is None
    assert region_parent("659001", "county") == "659000"
    assert region_code_problem("659000", "city") is None


@pytest.mark.parametrize("code", ["64010", "6401040", "64010a", "", "６４０１０４"])
def test_region_codes_that_are_not_6_digits(code):
    assert f"编码“{code}”不是 6 位数字" in (region_code_problem(code, "county") or "")


def test_national_region():
    assert region_code_problem("000000", "national") is None
    assert region_parent("000000", "national") is None
    assert region_code_problem("000000", "province") is not None
    assert province_of("000000") == "000000"


# -- items and implementations ------------------------------------------------------------

types = st.sampled_from(["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "20"])
serial = st.integers(1, 99999).map(lambda n: f"{n:05d}")
sub = st.integers(1, 999).map(lambda n: f"{n:03d}")
owner = st.one_of(st.just("000000"), pp.map(lambda p: p + "0000"))


@given(owner, types, serial, sub)
def test_item_codes(owner, type_, mmmmm, sss):
    head = ("00" if owner == "000000" else owner[:2]) + type_ + mmmmm
    main = head + "000"
    assert item_code_problem(main, type_, owner, None) is None
    assert item_code_problem(head + sss, type_, owner, main) is None
    assert is_sub_item_code(head + sss) and not is_sub_item_code(main)
    assert item_code_problem(head + sss, type_, owner, None) is not None  # sub serial, no main
    assert item_code_problem(main, type_, owner, main) is not None  # main serial, names a main
    other_type = "20" if type_ != "20" else "01"
    assert item_code_problem(main, other_type, owner, None) is not None
    other_owner = "000000" if owner != "000000" else "640000"
    assert item_code_problem(main, type_, other_owner, None) is not None
    other_main = head[:4] + f"{(int(mmmmm) % 99999) + 1:05d}" + "000"
    assert item_code_problem(head + sss, type_, owner, other_main) is not None


@pytest.mark.parametrize("code", ["00010002300", "0001000230000", "00010002300a", "000100000000"])
def test_malformed_item_codes(code):
    assert item_code_problem(code, "01", "000000", None) is not None


@given(uscc_body, st.sampled_from(["national", "province", "city", "county"]), types, serial)
def test_implementation_code_shape(body, level, type_, mmmmm):
    agency = body + uscc_check_char(body)
    item = "00" + type_ + mmmmm + "000"
    code = implementation_code(agency, level, item)
    assert len(code) == 31
    assert code[:18] == agency and code[19:] == item
    assert code[18] == {"national": "1", "province": "2", "city": "3", "county": "4"}[level]
