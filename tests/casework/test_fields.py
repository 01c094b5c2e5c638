from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework import fields
from casework.fields import id_check_character


def test_resident_id_check_character_of_the_standards_example():
    # GB 11643-1999's worked example: 11010519491231002X
    assert id_check_character("11010519491231002") == "X"
    assert fields.id_number("11010519491231002X") is None
    assert fields.id_number("11010519491231002x") is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("110105194912310021", "校验码"),
        ("1101051949123100", "18位"),
        ("11010519491231A02X", "前17位"),
        ("110105194913310021", "出生日期"),
    ],
)
def test_bad_resident_ids_say_why(value, why):
    assert why in fields.id_number(value)


# The first 17 characters built from their parts (a regex strategy is slow enough to trip
# Hypothesis's health check on a loaded machine).
FIRST17 = st.builds(
    lambda area, born, serial: f"{area:06d}{born:%Y%m%d}{serial:03d}",
    st.integers(110000, 659999),
    st.dates(date(1950, 1, 1), date(2019, 12, 31)),
    st.integers(0, 999),
)


@given(FIRST17)
def test_every_wrong_check_character_is_refused(first17):
    right = id_check_character(first17)
    assert fields.id_number(first17 + right) is None
    for wrong in "0123456789X":
        if wrong != right:
            assert fields.id_number(first17 + wrong) is not None


@pytest.mark.parametrize(
    "value", ["13800000000", "19912345678", "0951-5012345", "09515012345", "010-12345678"]
)
def test_phones_that_fit(value):
    assert fields.phone(value) is None


@pytest.mark.parametrize("value", ["1380000000", "23800000000", "5012345", "0951-012345", "电话"])
def test_phones_that_do_not(value):
    assert fields.phone(value) is not None


def test_dates_numbers_choices():
    assert fields.check("date", "2026-12-01") is None
    assert "YYYY-MM-DD" in fields.check("date", "2026/12/01")
    assert "不存在" in fields.check("date", "2026-02-30")
    assert fields.check("number", "12.5") is None
    assert fields.check("number", 3) is None
    assert fields.check("number", "三") is not None
    assert fields.check("choice", "男", ["男", "女"]) is None
    assert "男、女" in fields.check("choice", "未知", ["男", "女"])
    assert fields.check("text", "") == "必填，未填写"
    assert fields.check("text", None) == "必填，未填写"
