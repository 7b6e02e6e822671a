from __future__ import annotations

import re
import types
import typing
from pathlib import Path

import pytest

from web.config import SETTINGS, Settings, SettingsError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_every_setting_is_documented_with_its_default() -> None:
    text = DOCS.read_text()
    for row in SETTINGS:
        line = next((ln for ln in text.splitlines() if ln.startswith(f"| `{row.name}` |")), None)
        assert line is not None, f"{row.name} is missing from docs/settings.md"
        if row.default:
            assert f"`{row.default}`" in line, f"{row.name}: docs show another default"


def test_docs_list_no_setting_that_does_not_exist() -> None:
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", DOCS.read_text(), re.M))
    assert documented == {row.name for row in SETTINGS}


def test_settings_built_in_code_and_from_an_empty_environment_are_the_same() -> None:
    # One source: a field's default is its documented default string, parsed.
    assert Settings() == Settings.from_env({})


def test_every_setting_has_the_type_its_field_declares() -> None:
    hints = typing.get_type_hints(Settings)
    defaults = Settings()
    for row in SETTINGS:
        value = getattr(defaults, row.attribute)
        declared = hints[row.attribute]
        union = typing.get_origin(declared) in (typing.Union, types.UnionType)
        allowed = typing.get_args(declared) if union else (declared,)
        origins = tuple(typing.get_origin(t) or t for t in allowed)
        assert isinstance(value, origins), f"{row.name}: {value!r} is not {declared}"


def test_defaults_are_the_embedded_ones() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.database_url == "" and settings.redis_url == ""


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "eighty", "setting PORT: expected a whole number"),
        ("PORT", "70000", "setting PORT: expected a number from 1 to 65535"),
        ("REDIS_URL", "http://x", "setting REDIS_URL: expected a URL starting with redis"),
        ("DATABASE_URL", "mysql://x", "setting DATABASE_URL: expected a URL"),
        ("ATELIER_SECRET_KEY", "short", "at least 32 characters"),
        ("ATELIER_LOG_LEVEL", "loud", "expected one of debug, info"),
        ("ATELIER_VISIO_UDP_PORTS", "40000", "setting ATELIER_VISIO_UDP_PORTS: expected a port"),
        ("ATELIER_VISIO_UDP_PORTS", "40000:40999", "expected a port range LOW-HIGH"),
        ("ATELIER_VISIO_UDP_PORTS", "40000-", "expected a port range LOW-HIGH"),
        ("ATELIER_VISIO_UDP_PORTS", "a-b", "expected a port range LOW-HIGH"),
        ("ATELIER_VISIO_UDP_PORTS", "-5-10", "expected a port range LOW-HIGH"),
        ("ATELIER_VISIO_UDP_PORTS", "1023-2000", "expected ports from 1024 to 65535"),
        ("ATELIER_VISIO_UDP_PORTS", "60000-65536", "expected ports from 1024 to 65535"),
        ("ATELIER_VISIO_UDP_PORTS", "41000-40000", "the lower one first, got 41000-40000"),
        ("ATELIER_PUBLIC_URL", "atelier.example.gouv.fr", "expected an address such as https"),
        ("ATELIER_PUBLIC_URL", "ftp://atelier.example.gouv.fr", "expected an address such as"),
        ("ATELIER_PUBLIC_URL", "https://atelier.example.gouv.fr/app", "no path, query or user"),
        ("ATELIER_PUBLIC_URL", "https://a.example?x=1", "no path, query or user"),
        ("ATELIER_PUBLIC_URL", "http://0.0.0.0:8000", "a name or address people can open"),
        ("ATELIER_PUBLIC_URL", "http://exa mple.org", "a name or address people can open"),
        ("ATELIER_PUBLIC_URL", "http://example.org:port", "expected an address such as"),
        ("ATELIER_ALLOWED_HOSTS", "intra, bad/name", "'bad/name' is not a host name"),
        ("ATELIER_SERVE_SOURCE_MAPS", "maybe", "expected true or false, got 'maybe'"),
    ],
)
def test_a_bad_value_names_the_setting_and_what_it_accepts(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        Settings.from_env({name: value})


def test_several_workers_without_redis_are_refused_with_the_reason() -> None:
    with pytest.raises(SettingsError, match="need REDIS_URL"):
        Settings.from_env({"ATELIER_WORKERS": "3"}).check()
    Settings.from_env({"ATELIER_WORKERS": "3", "REDIS_URL": "redis://127.0.0.1:6379"}).check()


@pytest.mark.parametrize(
    ("value", "ports"),
    [
        ("", None),
        ("  ", None),
        ("40000-40999", (40000, 40999)),
        (" 40000 - 40999 ", (40000, 40999)),
        ("1024-65535", (1024, 65535)),
        ("50000-50000", (50000, 50000)),
    ],
)
def test_the_visio_udp_port_range_is_read_as_its_bounds(
    value: str, ports: tuple[int, int] | None
) -> None:
    assert Settings.from_env({"ATELIER_VISIO_UDP_PORTS": value}).visio_udp_ports == ports


@pytest.mark.parametrize(
    ("env", "base", "hosts"),
    [
        ({}, "http://127.0.0.1:8000", {"127.0.0.1", "localhost", "::1"}),
        ({"HOST": "::1", "PORT": "9000"}, "http://[::1]:9000", {"127.0.0.1", "localhost", "::1"}),
        (
            {"ATELIER_PUBLIC_URL": "https://Atelier.Example.gouv.fr/", "HOST": "0.0.0.0"},
            "https://atelier.example.gouv.fr",
            {"atelier.example.gouv.fr"},
        ),
        (
            {
                "ATELIER_PUBLIC_URL": "https://atelier.example.gouv.fr:8443",
                "ATELIER_ALLOWED_HOSTS": "intra.local, [fd00::1]",
                "HOST": "10.1.2.3",
            },
            "https://atelier.example.gouv.fr:8443",
            {"atelier.example.gouv.fr", "intra.local", "fd00::1"},
        ),
    ],
)
def test_links_start_with_the_public_address_and_only_its_host_is_accepted(
    env: dict[str, str], base: str, hosts: set[str]
) -> None:
    settings = Settings.from_env(env)
    settings.check_serving()
    assert settings.public_base_url == base
    assert settings.accepted_hosts == hosts


def test_serving_beyond_loopback_needs_a_public_address() -> None:
    with pytest.raises(SettingsError, match="ATELIER_PUBLIC_URL must say"):
        Settings.from_env({"HOST": "0.0.0.0"}).check_serving()
    # Commands that serve no HTTP (migrate, token, sfu) only run `check`.
    Settings.from_env({"HOST": "0.0.0.0"}).check()
