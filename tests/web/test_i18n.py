"""French by default, English on request, and every string of these pages translated."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from babel.messages.extract import extract_from_file

from tests.support.forms import post_form
from web.i18n import load_catalog, normalise, translations

WEB = Path(__file__).resolve().parents[2] / "web"
# Areas whose strings must all be in the English catalogue (add yours as it is translated).
CHECKED_PYTHON = [*WEB.glob("auth/*.py"), *WEB.glob("accounts/*.py")]
# Every template: the layout, the components and every page.
CHECKED_TEMPLATES = sorted(WEB.glob("templates/**/*.html"))
KEYWORDS = {
    "_": None,
    "t": None,
    "N_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "HTTPException": (2,),
    "AccountError": None,
    "Forbidden": None,
    "_failure": (2,),
}


def _source_strings() -> set[str]:
    found: set[str] = set()
    for path in CHECKED_PYTHON:
        for _line, message, _c, _ctx in extract_from_file("python", path, keywords=KEYWORDS):
            found.add(message if isinstance(message, str) else message[0])
    for path in CHECKED_TEMPLATES:
        for _line, message, _c, _ctx in extract_from_file(
            "jinja2.ext:babel_extract",
            path,
            keywords=KEYWORDS,
            options={"extensions": "jinja2.ext.i18n"},
        ):
            found.add(message if isinstance(message, str) else message[0])
    return {m for m in found if m}


def test_every_french_string_of_the_templates_and_accounts_has_an_english_translation() -> None:
    catalog = load_catalog("en")
    missing = sorted(m for m in _source_strings() if not (catalog.get(m) and catalog[m].string))
    assert not missing, f"add to web/locale/en/LC_MESSAGES/messages.po: {missing}"


def test_english_translations_keep_their_placeholders() -> None:
    import re

    for message in load_catalog("en"):
        if message.id and message.string:
            ids = sorted(re.findall(r"%\(\w+\)\w", str(message.id)))
            assert ids == sorted(re.findall(r"%\(\w+\)\w", str(message.string))), message.id


def test_unknown_languages_fall_back_to_french() -> None:
    assert normalise("en-GB") == "en" and normalise("de") == "fr" and normalise(None) == "fr"
    assert translations("fr").gettext("Se connecter") == "Se connecter"
    assert translations("en").gettext("Se connecter") == "Sign in"


async def test_pages_are_in_french_by_default(client: httpx.AsyncClient) -> None:
    page = await client.get("/connexion", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="fr">' in page.text
    assert "Se connecter à Atelier" in page.text and "Aller au contenu" in page.text


async def test_the_language_switch_turns_the_interface_to_english_and_back(
    client: httpx.AsyncClient,
) -> None:
    response = await post_form(client, "/langue", {"langue": "en", "next": "/connexion"})
    assert response.status_code == 303 and response.headers["location"] == "/connexion"
    page = await client.get("/connexion")
    assert '<html lang="en">' in page.text
    assert "Sign in to Atelier" in page.text and "Skip to content" in page.text
    assert "Se connecter à Atelier" not in page.text
    await post_form(client, "/langue", {"langue": "fr", "next": "/connexion"})
    assert '<html lang="fr">' in (await client.get("/connexion")).text


async def test_error_messages_follow_the_language(client: httpx.AsyncClient) -> None:
    await post_form(client, "/langue", {"langue": "en", "next": "/"})
    response = await post_form(
        client, "/connexion", {"email": "x@agri.gouv.fr", "password": "wrong password"}
    )
    assert "Wrong email address or password." in response.text


async def test_a_signed_in_persons_language_follows_them_to_another_device(
    new_client: Callable[[], httpx.AsyncClient],
    make_user: Callable[..., Awaitable[int]],
    signed_in: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    await make_user("hugo@agri.gouv.fr")
    laptop = await signed_in(new_client(), "hugo@agri.gouv.fr")
    await post_form(laptop, "/langue", {"langue": "en", "next": "/compte"})
    phone = await signed_in(new_client(), "hugo@agri.gouv.fr")
    page = await phone.get("/compte")
    assert '<html lang="en">' in page.text and "My account" in page.text


async def test_the_language_switch_never_redirects_to_another_site(
    client: httpx.AsyncClient,
) -> None:
    response = await post_form(client, "/langue", {"langue": "en", "next": "https://evil.example"})
    assert response.headers["location"] == "/"
