"""The spaces pages speak French by default and English on request, every string translated."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from babel.messages.extract import extract_from_file
from starlette.applications import Starlette

from tests.support.servers import ROOT
from tests.support.spaces_world import build_world
from web.i18n import COOKIE_NAME, load_catalog
from web.spaces.endpoints import KIND_NAMES, ROLE_NAMES, VISIBILITY_NAMES
from web.spaces.link_routes import STATUS_NAMES

WEB = ROOT / "web"
KEYWORDS = {
    "_": None,
    "t": None,
    "gettext": None,
    "InvalidInput": None,
    "Forbidden": None,
    "NotFound": None,
    "Conflict": None,
    "Gone": None,
    "N_": None,
}


def _strings() -> set[str]:
    found = {*ROLE_NAMES.values(), *KIND_NAMES.values(), *VISIBILITY_NAMES.values()}
    found |= set(STATUS_NAMES.values())
    for path in WEB.glob("spaces/*.py"):
        for _l, message, _c, _x in extract_from_file("python", path, keywords=KEYWORDS):
            found.add(message if isinstance(message, str) else message[0])
    templates = [*WEB.glob("templates/spaces/*.html"), *WEB.glob("templates/directory/*.html")]
    for path in templates:
        for _l, message, _c, _x in extract_from_file(
            "jinja2.ext:babel_extract",
            path,
            keywords=KEYWORDS,
            options={"extensions": "jinja2.ext.i18n"},
        ):
            found.add(message if isinstance(message, str) else message[0])
    return {m for m in found if m}


def test_every_french_string_of_spaces_has_an_english_translation() -> None:
    catalog = load_catalog("en")
    missing = sorted(m for m in _strings() if not (catalog.get(m) and catalog[m].string))
    assert not missing, f"add to web/locale/en/LC_MESSAGES/spaces.po: {missing}"


async def test_the_space_home_is_in_french_by_default_and_english_on_request(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    client = world.clients["editor"]
    french = await client.get(f"/espaces/{world.slug}")
    assert "Organiser les pages" in french.text and "Éditeur" in french.text
    client.cookies.set(COOKIE_NAME, "en")
    english = await client.get(f"/espaces/{world.slug}")
    assert "Organise pages" in english.text and "Editor" in english.text
    assert "Organiser les pages" not in english.text
