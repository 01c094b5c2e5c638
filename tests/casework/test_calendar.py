from __future__ import annotations

from datetime import date

import pytest

from casework import Schedule, ScheduleError, WorkCalendar


def test_national_day_and_its_adjusted_saturday():
    cal = WorkCalendar()
    # 2026-09-30 (Wed) + 3 working days: 1–7 Oct off; Thu 8, Fri 9 and the 调休 Saturday 10 Oct worked
    assert cal.add_days(date(2026, 9, 30), 3) == (date(2026, 10, 10), False)
    assert cal.is_workday(date(2026, 10, 10)) == (True, True)
    assert cal.is_workday(date(2026, 10, 5)) == (False, True)


def test_spring_festival_with_its_adjusted_saturday():
    cal = WorkCalendar()
    # Thu 12 Feb + 3: Fri 13, the 调休 Sat 14, then 15–23 Feb off, Tue 24
    assert cal.add_days(date(2026, 2, 12), 3) == (date(2026, 2, 24), False)
    assert cal.between(date(2026, 2, 12), date(2026, 2, 24)) == 3


def test_an_unknown_year_counts_monday_to_friday_and_says_so():
    cal = WorkCalendar()
    assert not cal.knows(2027)
    # Mon 28 Dec 2026 + 5: 29, 30, 31 Dec, then Fri 1 Jan 2027 counted as a weekday, Mon 4 Jan
    assert cal.add_days(date(2026, 12, 28), 5) == (date(2027, 1, 4), True)
    assert cal.add_days(date(2026, 12, 28), 3) == (date(2026, 12, 31), False)


def test_a_year_added_as_data_counts_again():
    cal = WorkCalendar()
    cal.add(Schedule(year=2027, holidays=[date(2027, 1, 1)], workdays=[date(2027, 2, 6)]))
    assert cal.knows(2027)
    assert cal.add_days(date(2026, 12, 28), 5) == (date(2027, 1, 5), False)
    assert cal.is_workday(date(2027, 2, 6)) == (True, True)  # a Saturday worked


def test_a_schedule_that_does_not_hold_together_is_refused():
    with pytest.raises(ScheduleError, match="其他年份"):
        WorkCalendar([Schedule(year=2027, holidays=[date(2026, 1, 1)])])
    with pytest.raises(ScheduleError, match="既是假日又是调休"):
        WorkCalendar([Schedule(year=2027, holidays=[date(2027, 2, 6)], workdays=[date(2027, 2, 6)])])
    with pytest.raises(ScheduleError, match="应是周末"):
        WorkCalendar([Schedule(year=2027, holidays=[], workdays=[date(2027, 2, 8)])])


def test_zero_days_is_the_day_itself():
    assert WorkCalendar().add_days(date(2026, 12, 4), 0) == (date(2026, 12, 4), False)
