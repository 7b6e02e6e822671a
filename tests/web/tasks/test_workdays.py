"""The working-day calendar: French public holidays (Easter computed), weekends skipped or
not, and day numbers that make "n working days later" plain arithmetic."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from web.tasks.workdays import (
    OutOfCalendar,
    WorkCalendar,
    easter_sunday,
    french_public_holidays,
)


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (1961, date(1961, 4, 2)),
        (2000, date(2000, 4, 23)),
        (2008, date(2008, 3, 23)),
        (2011, date(2011, 4, 24)),
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),
        (2285, date(2285, 3, 22)),
    ],
)
def test_easter_falls_on_the_sunday_the_church_calendar_gives(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_the_eleven_french_public_holidays_of_2026() -> None:
    days = french_public_holidays(2026)
    assert sorted(days) == [
        date(2026, 1, 1),
        date(2026, 4, 6),  # Lundi de Pâques
        date(2026, 5, 1),
        date(2026, 5, 8),
        date(2026, 5, 14),  # Ascension
        date(2026, 5, 25),  # Lundi de Pentecôte
        date(2026, 7, 14),
        date(2026, 8, 15),
        date(2026, 11, 1),
        date(2026, 11, 11),
        date(2026, 12, 25),
    ]
    assert days[date(2026, 5, 14)] == "Ascension"


def test_weekends_and_holidays_are_days_off_when_the_space_skips_them() -> None:
    calendar = WorkCalendar()
    assert not calendar.is_working(date(2026, 5, 1))  # a Friday, Fête du Travail
    assert not calendar.is_working(date(2026, 5, 2))  # a Saturday
    assert calendar.is_working(date(2026, 5, 4))
    assert calendar.days_off(date(2026, 4, 30), date(2026, 5, 4)) == [
        date(2026, 5, 1),
        date(2026, 5, 2),
        date(2026, 5, 3),
    ]
    every_day = WorkCalendar(skip_non_working=False)
    assert (
        every_day.is_working(date(2026, 5, 1))
        and every_day.days_off(date(2026, 4, 30), date(2026, 5, 4)) == []
    )


def test_day_numbers_count_working_days_and_a_day_off_shares_the_next_ones() -> None:
    calendar = WorkCalendar()
    thursday = calendar.index(date(2026, 4, 30))
    assert calendar.index(date(2026, 5, 1)) == thursday + 1  # the holiday: as Monday
    assert calendar.index(date(2026, 5, 3)) == thursday + 1
    assert calendar.index(date(2026, 5, 4)) == thursday + 1
    assert calendar.day(thursday + 1) == date(2026, 5, 4)
    day = date(2025, 12, 20)
    for _ in range(800):
        if calendar.is_working(day):
            assert calendar.day(calendar.index(day)) == day
        day += timedelta(days=1)
    every_day = WorkCalendar(skip_non_working=False)
    assert every_day.index(date(2026, 5, 2)) - every_day.index(date(2026, 4, 30)) == 2


def test_a_date_past_the_calendars_years_is_refused() -> None:
    with pytest.raises(OutOfCalendar):
        WorkCalendar().index(date(2400, 1, 1))
    with pytest.raises(OutOfCalendar):
        WorkCalendar().day(10**7)
