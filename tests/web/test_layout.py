"""The header's navigation follows the person: a guest sees only Accueil, an agent the spaces,
the directory and a new meeting, an administrator the administration too."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from starlette.applications import Starlette

from tests.support.spaces_world import build_world


def navigation(page: str) -> list[str]:
    nav = re.search(r'<nav class="fr-nav"[^>]*>(.*?)</nav>', page, re.S)
    return re.findall(r'class="fr-nav__link"[^>]*>([^<]+)</a>', nav.group(1)) if nav else []


async def test_the_main_navigation_shows_each_person_only_where_they_may_go(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    page = f"/espaces/{world.slug}/pages/{world.page.id}"
    guest = (await world.clients["page_link_editor"].get(page)).text
    agent = (await world.clients["editor"].get("/espaces")).text
    admin = (await world.clients["instance_admin"].get("/espaces")).text
    nobody = (await world.clients["anonymous"].get("/connexion")).text
    assert navigation(guest) == ["Accueil"]
    assert navigation(agent) == ["Accueil", "Espaces", "Annuaire", "Nouvelle réunion"]
    assert navigation(admin) == [*navigation(agent), "Administration"]
    assert navigation(nobody) == [] and "Se connecter" in nobody
