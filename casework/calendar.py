"""Working days on the official calendar of the People's Republic of China (§7.2).

The statutory holidays and the adjusted working weekend days (调休) come from the maintained
`chinese-calendar` package, plus any year's schedule the operator adds as data
(`Schedule`). For a year neither knows, days are counted Monday to Friday and the answer says
it is provisional.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta

import chinese_calendar
import msgspec


class Schedule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One year's published schedule (国务院办公厅关于……部分节假日安排的通知): the days off that
    fall on weekdays or weekends alike (`holidays`) and the weekend days worked (`workdays`)."""

    year: int
    holidays: list[date]
    workdays: list[date] = []
    source: str = ""


class ScheduleError(ValueError):
    """A schedule that does not hold together (a date outside its year, a day both off and on)."""


def checked(schedule: Schedule) -> Schedule:
    wrong = [d for d in [*schedule.holidays, *schedule.workdays] if d.year != schedule.year]
    if wrong:
        raise ScheduleError(f"{schedule.year}年的安排中有其他年份的日期：{wrong[0].isoformat()}")
    both = set(schedule.holidays) & set(schedule.workdays)
    if both:
        raise ScheduleError(f"{min(both).isoformat()} 既是假日又是调休工作日")
    odd = [d for d in schedule.workdays if d.weekday() < 5]
    if odd:
        raise ScheduleError(f"调休工作日应是周末：{odd[0].isoformat()} 是工作日")
    return schedule


schedule_decoder = msgspec.json.Decoder(Schedule)


class WorkCalendar:
    """`is_workday`, `add` and `between` over the package's years and the added `schedules`."""

    def __init__(self, schedules: Iterable[Schedule] = ()):
        self.schedules: Mapping[str, Schedule] = {}
        self._off: set[date] = set()
        self._on: set[date] = set()
        self._years: set[int] = set()
        self._package_years = {d.year for d in chinese_calendar.holidays}
        self._package_days: dict[date, bool] = {}
        """The package's answers, kept: its `is_workday` checks the date's range against every
        holiday it knows (~80 µs a call), and a hand-in asks for dozens of days."""
        for schedule in schedules:
            self.add(schedule)

    def add(self, schedule: Schedule) -> None:
        """A year's schedule given as data (it overrides the package's for that year)."""
        checked(schedule)
        self._off = {d for d in self._off if d.year != schedule.year} | set(schedule.holidays)
        self._on = {d for d in self._on if d.year != schedule.year} | set(schedule.workdays)
        self._years.add(schedule.year)

    def knows(self, year: int) -> bool:
        return year in self._years or year in self._package_years

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """(a working day?, known from an official schedule?)"""
        if day.year in self._years:
            if day in self._on:
                return True, True
            return day.weekday() < 5 and day not in self._off, True
        if day.year in self._package_years:
            working = self._package_days.get(day)
            if working is None:
                working = self._package_days[day] = chinese_calendar.is_workday(day)
            return working, True
        return day.weekday() < 5, False

    def add_days(self, start: date, days: int) -> tuple[date, bool]:
        """The day `days` working days after `start` (the start day itself not counted; 0: the
        start day), and whether a day counted lay in a year without a known schedule."""
        day, left, provisional = start, days, not self.knows(start.year) and days > 0
        while left > 0:
            day += timedelta(days=1)
            working, known = self.is_workday(day)
            provisional = provisional or not known
            if working:
                left -= 1
        return day, provisional

    def between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (0 when `end` ≤ `start`)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day)[0]:
                count += 1
        return count
