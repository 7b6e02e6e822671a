"""Times as a person reads them: in their time zone (Europe/Paris unless they chose another).

Stored times are UTC (SQLite hands them back naive). Pages and mails never show "UTC": every
timestamp goes through `local_time` (the `local_time` / `local_date` template filters, web/
templating.py, take the zone of the signed-in person; a mail passes its recipient's). No I/O
here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_ZONE = "Europe/Paris"
MAX_ZONE_NAME = 64

# Formats by language: day first in French, ISO order in English (unambiguous everywhere).
_FORMATS = {
    "fr": {"datetime": "%d/%m/%Y %H:%M", "date": "%d/%m/%Y", "time": "%H:%M"},
    "en": {"datetime": "%Y-%m-%d %H:%M", "date": "%Y-%m-%d", "time": "%H:%M"},
}


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every IANA zone a person may pick ("Europe/Paris"), sorted; legacy aliases left out."""
    return tuple(
        sorted(
            name
            for name in available_timezones()
            if "/" in name
            and not name.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/"))
            and name != "localtime"
        )
    )


@lru_cache(maxsize=1)
def zone_choices() -> tuple[tuple[str, str], ...]:
    """(value, label) pairs for a select: "America/New_York" reads "America/New York"."""
    return tuple((name, name.replace("_", " ")) for name in zone_names())


@lru_cache(maxsize=1)
def _zone_set() -> frozenset[str]:
    return frozenset(zone_names())


def is_zone(name: str) -> bool:
    """True when `name` is a zone the select offers."""
    return name in _zone_set()


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def zone_of(name: str | None) -> ZoneInfo:
    """The zone called `name`, or Europe/Paris when it is empty or unknown."""
    return _zone(name if name and is_zone(name) else DEFAULT_ZONE)


def in_zone(moment: datetime, zone: str | None) -> datetime:
    """`moment` (aware, or naive meaning UTC) as a wall-clock time in `zone`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone_of(zone))


def local_time(
    moment: datetime | None, zone: str | None, locale: str = "fr", part: str = "datetime"
) -> str:
    """`moment` written in `zone` for a reader of `locale`: part is datetime, date or time."""
    if moment is None:
        return ""
    formats = _FORMATS.get(locale, _FORMATS["fr"])
    return in_zone(moment, zone).strftime(formats[part])
