"""Times read in the person's zone: Paris by default, across the daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from web.local_time import DEFAULT_ZONE, is_zone, local_time, zone_choices, zone_of


def test_a_time_is_shown_in_paris_by_default_and_never_in_utc() -> None:
    noon_utc = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert local_time(noon_utc, None) == "07/12/2026 13:00"
    assert local_time(noon_utc, "") == "07/12/2026 13:00"
    assert DEFAULT_ZONE == "Europe/Paris"


def test_a_naive_stored_time_is_read_as_utc() -> None:
    assert local_time(datetime(2026, 12, 7, 12, 0), "Europe/Paris") == "07/12/2026 13:00"


def test_another_zone_and_language() -> None:
    noon_utc = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert local_time(noon_utc, "America/New_York") == "07/12/2026 07:00"
    assert local_time(noon_utc, "America/New_York", "en") == "2026-12-07 07:00"
    assert local_time(noon_utc, "Asia/Kolkata", part="time") == "17:30"


def test_the_day_can_change_with_the_zone() -> None:
    late = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    assert local_time(late, "Europe/Paris", part="date") == "08/12/2026"
    assert local_time(late, "America/Los_Angeles", part="date") == "07/12/2026"


@pytest.mark.parametrize(
    ("utc", "paris"),
    [
        # Spring forward, 29 March 2026: 02:00 in Paris does not exist.
        (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), "29/03/2026 01:59"),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "29/03/2026 03:00"),
        # Fall back, 25 October 2026: 02:30 in Paris happens twice, an hour apart.
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "25/10/2026 02:30"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "25/10/2026 02:30"),
        (datetime(2026, 10, 25, 2, 0, tzinfo=UTC), "25/10/2026 03:00"),
    ],
)
def test_daylight_saving_boundaries_in_paris(utc: datetime, paris: str) -> None:
    assert local_time(utc, "Europe/Paris") == paris


def test_new_york_changes_on_other_days_than_paris() -> None:
    # 8 March 2026: New York is on summer time, Paris not yet (5 hours apart, not 6).
    moment = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    assert local_time(moment, "America/New_York", part="time") == "08:00"
    assert local_time(moment, "Europe/Paris", part="time") == "13:00"


def test_an_unknown_zone_falls_back_to_paris() -> None:
    assert not is_zone("Mars/Olympus_Mons") and not is_zone("../../etc/passwd")
    assert zone_of("Mars/Olympus_Mons").key == "Europe/Paris"
    assert local_time(None, "Europe/Paris") == ""


def test_the_choices_are_iana_names_with_readable_labels() -> None:
    choices = dict(zone_choices())
    assert choices["America/New_York"] == "America/New York"
    assert "Europe/Paris" in choices and "UTC" not in choices
