"""Working days: weekends and French public holidays, as a plan's calendar counts them.

Pure (no I/O, no clock). A space either skips weekends and public holidays (the default) or
counts every day. The calendar numbers days: `index(d)` is how many working days come before
`d`, `day(i)` the working day numbered `i`, so "three working days later" is plain
arithmetic on numbers and a lag or a duration never lands on a Sunday or a 14 July.

French public holidays (metropolitan France, Code du travail L3133-1): 1 January, Easter
Monday, 1 May, 8 May, Ascension Thursday, Whit Monday, 14 July, 15 August, 1 November,
11 November, 25 December. Easter is computed (the anonymous Gregorian algorithm), so no
table goes stale. Alsace-Moselle's two extra days (Good Friday, 26 December) are not
counted.
"""

from __future__ import annotations

import functools
from array import array
from bisect import bisect_left
from datetime import date, timedelta

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2299, 12, 31)
_FIRST = FIRST_DAY.toordinal()
_LAST = LAST_DAY.toordinal()


class OutOfCalendar(ValueError):
    """A date (or a date reached by a shift) outside the years the calendar covers."""


def easter_sunday(year: int) -> date:
    """Easter Sunday of `year` in the Gregorian calendar (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def french_public_holidays(year: int) -> dict[date, str]:
    """The public holidays of `year` in metropolitan France, with their French names."""
    easter = easter_sunday(year)
    return {
        date(year, 1, 1): "Jour de l'an",
        easter + timedelta(days=1): "Lundi de Pâques",
        date(year, 5, 1): "Fête du Travail",
        date(year, 5, 8): "Victoire 1945",
        easter + timedelta(days=39): "Ascension",
        easter + timedelta(days=50): "Lundi de Pentecôte",
        date(year, 7, 14): "Fête nationale",
        date(year, 8, 15): "Assomption",
        date(year, 11, 1): "Toussaint",
        date(year, 11, 11): "Armistice 1918",
        date(year, 12, 25): "Noël",
    }


@functools.cache
def _working_ordinals() -> array[int]:
    """Every working day's ordinal from FIRST_DAY to LAST_DAY, in order."""
    holidays: set[int] = set()
    for year in range(FIRST_DAY.year, LAST_DAY.year + 1):
        holidays.update(day.toordinal() for day in french_public_holidays(year))
    days = array("i")
    for ordinal in range(_FIRST, _LAST + 1):
        # date.fromordinal(1) is a Monday: ordinal % 7 is 6 on Saturdays, 0 on Sundays.
        if ordinal % 7 not in (0, 6) and ordinal not in holidays:
            days.append(ordinal)
    return days


def _check(ordinal: int) -> int:
    if not _FIRST <= ordinal <= _LAST:
        raise OutOfCalendar(
            f"date outside the calendar ({FIRST_DAY.isoformat()} – {LAST_DAY.isoformat()})"
        )
    return ordinal


class WorkCalendar:
    """Numbers days so that shifts count working days (or every day, when not skipping)."""

    def __init__(self, *, skip_non_working: bool = True) -> None:
        self.skip_non_working = skip_non_working

    def __repr__(self) -> str:
        return f"WorkCalendar(skip_non_working={self.skip_non_working})"

    def is_working(self, day: date) -> bool:
        if not self.skip_non_working:
            return True
        if day.weekday() >= 5:
            return False
        return day not in french_public_holidays(day.year)

    def index(self, day: date) -> int:
        """How many working days come before `day` (a day off shares the next one's index)."""
        ordinal = _check(day.toordinal())
        if not self.skip_non_working:
            return ordinal
        return bisect_left(_working_ordinals(), ordinal)

    def day(self, index: int) -> date:
        """The working day numbered `index` (the inverse of `index` on working days)."""
        if not self.skip_non_working:
            return date.fromordinal(_check(index))
        days = _working_ordinals()
        if not 0 <= index < len(days):
            raise OutOfCalendar(
                f"date outside the calendar ({FIRST_DAY.isoformat()} – {LAST_DAY.isoformat()})"
            )
        return date.fromordinal(days[index])

    def days_off(self, first: date, last: date) -> list[date]:
        """The days from `first` to `last` (inclusive) that are not working days."""
        if not self.skip_non_working or last < first:
            return []
        count = (last - first).days + 1
        return [
            d for d in (first + timedelta(days=n) for n in range(count)) if not self.is_working(d)
        ]
