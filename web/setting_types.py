"""The pieces settings are declared with (web/config.py): the `Setting` row and `setting()`
field, and the parsers that turn an environment value into a typed one or say what is wrong."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A setting has a value the server cannot use."""


def parse_int(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip().replace("_", ""))
        except ValueError:
            raise SettingsError(f"expected a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"expected a number from {low} to {high}, got {value}")
        return value

    return parse


def parse_float(low: float, high: float) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise SettingsError(f"expected a number, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"expected a number from {low} to {high}, got {value}")
        return value

    return parse


def parse_text(raw: str) -> str:
    return raw.strip()


def parse_url(*schemes: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if (
            value
            and not value.startswith(tuple(f"{s}://" for s in schemes))
            and (not any(value.startswith(f"{s}+") for s in schemes))
        ):
            raise SettingsError(f"expected a URL starting with {' or '.join(schemes)}://")
        return value

    return parse


def parse_flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"expected true or false, got {raw!r}")


# Addresses a server listens on that no one can open in a browser.
_UNSPECIFIED = ("0.0.0.0", "::", "[::]")
_HOST_NAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.?")


def _host_name_problem(name: str) -> str | None:
    """Why `name` is not a host name or IP address, or None when it is one."""
    try:
        ipaddress.ip_address(name.strip("[]"))
        return None
    except ValueError:
        pass
    if _HOST_NAME.fullmatch(name) is None:
        return f"{name!r} is not a host name"
    return None


def parse_public_url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not value:
        return ""
    example = "expected an address such as https://atelier.example.gouv.fr"
    try:
        parts = urlsplit(value)
        hostname = parts.hostname or ""
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise SettingsError(f"{example}, got {raw!r}") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise SettingsError(f"{example}, got {raw!r}")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise SettingsError(f"{example} (no path, query or user), got {raw!r}")
    if hostname in _UNSPECIFIED or _host_name_problem(hostname):
        raise SettingsError(f"{example} (a name or address people can open), got {raw!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def parse_host_names(raw: str) -> tuple[str, ...]:
    names = tuple(n.strip().lower() for n in raw.split(",") if n.strip())
    for name in names:
        problem = _host_name_problem(name)
        if problem:
            raise SettingsError(f"expected host names separated by commas: {problem}")
    return tuple(n.strip("[]") for n in names)


def parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise SettingsError(f"expected one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def parse_secret(raw: str) -> str:
    value = raw.strip()
    if value and len(value) < 32:
        raise SettingsError("a secret key must be at least 32 characters long")
    return value


def parse_domains(raw: str) -> tuple[str, ...]:
    names = tuple(d.strip().lower().lstrip("@").lstrip(".") for d in raw.split(",") if d.strip())
    for name in names:
        if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)*", name):
            raise SettingsError(f"expected email domains separated by commas, got {name!r}")
    return names


def parse_ip_addresses(raw: str) -> str:
    names = [a.strip() for a in raw.split(",") if a.strip()]
    for name in names:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            message = f"expected IP addresses separated by commas, got {name!r}"
            raise SettingsError(message) from None
    return ",".join(names)


def parse_ice_urls(raw: str) -> str:
    urls = raw.split()
    for url in urls:
        if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
            raise SettingsError(f"expected stun: or turn: URLs separated by spaces, got {url!r}")
    return " ".join(urls)


def parse_port_range(raw: str) -> tuple[int, int] | None:
    value = raw.strip()
    if not value:
        return None
    match = re.fullmatch(r"([0-9]+)\s*-\s*([0-9]+)", value)
    if match is None:
        raise SettingsError(f"expected a port range LOW-HIGH such as 40000-40999, got {raw!r}")
    low, high = int(match[1]), int(match[2])
    if not 1024 <= low <= high <= 65535:
        raise SettingsError(
            f"expected ports from 1024 to 65535, the lower one first, got {low}-{high}"
        )
    return (low, high)


@dataclass(frozen=True)
class Setting:
    """One row of the settings table: the environment variable, its documented default (as
    one would write it), what it does, how it is read; `attribute` is its `Settings` field."""

    name: str
    default: str
    help: str
    parse: Callable[[str], Any]
    attribute: str = ""


def setting(name: str, default: str, help: str, parse: Callable[[str], Any]) -> Any:
    """A `Settings` field declared by its row: its typed default is `default` parsed."""
    return field(default=parse(default), metadata={"setting": Setting(name, default, help, parse)})
