"""The meeting pages: who gets a space's meeting room, ad-hoc meetings, the day's notes page,
and every string of the meeting in English."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx
from babel.messages.extract import extract_from_file
from starlette.applications import Starlette

from tests.support.servers import ROOT
from tests.support.spaces_world import build_world
from web.i18n import COOKIE_NAME, load_catalog
from web.local_time import today_in
from web.spaces.tree import flatten, page_tree
from web.visio.notes import notes_title
from web.visio.routes import CLIENT_STRINGS

WEB = ROOT / "web"
CONFIG = re.compile(r'<script type="application/json" id="meeting-config">(.*?)</script>', re.S)


def config_of(response: httpx.Response) -> dict[str, object]:
    match = CONFIG.search(response.text)
    assert match, response.text[:500]
    loaded = json.loads(match.group(1))
    assert isinstance(loaded, dict)
    return loaded


async def test_members_and_guests_of_the_space_get_its_meeting_room_others_do_not(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    url = f"/espaces/{world.slug}/reunion"
    for name in ("owner", "admin", "editor", "commenter", "reader", "space_link_reader"):
        response = await world.clients[name].get(url)
        assert response.status_code == 200, name
        assert config_of(response)["room"] == f"space-{world.space_id}"
        assert 'data-action="join"' in response.text
    # A guest of one page of the space may knock too (the lobby decides).
    assert (await world.clients["page_link_editor"].get(url)).status_code == 200
    assert (await world.clients["outsider"].get(url)).status_code == 404
    assert (await world.clients["instance_admin"].get(url)).status_code == 404
    assert (await world.clients["owner"].get("/espaces/nope/reunion")).status_code == 404
    anonymous = await world.clients["anonymous"].get(url)
    assert anonymous.status_code in (302, 303)
    assert anonymous.headers["location"].startswith("/connexion")


async def notes_pages(app: Starlette, space_id: int) -> list[Any]:
    """The space's pages titled as today's meeting notes."""
    title = notes_title(today_in(None))
    nodes = [n for n, _d in flatten(await page_tree(app.state.engine, space_id))]
    return [n for n in nodes if n.title == title]


async def open_notes(client: httpx.AsyncClient, slug: str) -> httpx.Response:
    """What the meeting client posts on joining (with the page's CSRF token)."""
    page = await client.get(f"/espaces/{slug}/reunion")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert token is not None
    return await client.post(
        f"/espaces/{slug}/reunion/notes", headers={"X-CSRF-Token": token.group(1)}
    )


async def test_looking_at_the_meeting_page_creates_no_notes_page(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    url = f"/espaces/{world.slug}/reunion"
    for name in ("owner", "editor", "reader", "space_link_reader", "page_link_editor"):
        assert (await world.clients[name].get(url)).status_code == 200, name
    assert await notes_pages(app, world.space_id) == []
    # Someone who may write sees where the notes will be; the editor opens them on joining.
    editor = await world.clients["editor"].get(url)
    assert f'data-notes-create="/espaces/{world.slug}/reunion/notes"' in editor.text
    assert "data-doc=" not in editor.text and "build/page.js" in editor.text
    assert "Les notes du jour s’ouvriront ici quand vous rejoindrez la réunion." in editor.text
    # A reader has nothing to open yet: no notes panel.
    assert 'id="editor"' not in (await world.clients["reader"].get(url)).text


async def test_the_first_editor_to_join_creates_the_meeting_notes_page_everyone_then_shares(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    url = f"/espaces/{world.slug}/reunion"
    title = notes_title(today_in(None))
    assert title.startswith("Notes de réunion — ")
    # A reader joining first cannot create it.
    refused = await open_notes(world.clients["reader"], world.slug)
    assert refused.status_code == 403
    assert "créées par une personne qui écrit dans l’espace" in refused.text
    assert await notes_pages(app, world.space_id) == []
    opened = await open_notes(world.clients["editor"], world.slug)
    assert opened.status_code == 200
    (notes,) = await notes_pages(app, world.space_id)
    assert opened.json() == {
        "doc": notes.doc_name,
        "url": f"/espaces/{world.slug}/pages/{notes.id}",
        "title": title,
        "role": "editor",
    }
    # The next ones to join get the same page; nobody makes a second one.
    again = await open_notes(world.clients["owner"], world.slug)
    assert again.json()["doc"] == notes.doc_name and again.json()["role"] == "owner"
    reader_join = await open_notes(world.clients["reader"], world.slug)
    assert reader_join.json()["role"] == "reader"
    assert len(await notes_pages(app, world.space_id)) == 1
    # From now on the meeting page shows the notes to everyone who may read them.
    editor = await world.clients["editor"].get(url)
    assert f'data-doc="{notes.doc_name}"' in editor.text and 'data-role="editor"' in editor.text
    assert "data-notes-create" not in editor.text
    reader = await world.clients["reader"].get(url)
    assert f'data-doc="{notes.doc_name}"' in reader.text
    assert 'data-role="reader"' in reader.text
    # A guest whose link is one other page neither reads nor creates the notes.
    guest = world.clients["page_link_editor"]
    assert 'id="editor"' not in (await guest.get(url)).text
    assert (await open_notes(guest, world.slug)).status_code == 404
    # Without the CSRF token, or from outside the space, nothing happens.
    forged = await world.clients["editor"].post(f"/espaces/{world.slug}/reunion/notes")
    assert forged.status_code == 403
    assert (await open_notes(world.clients["outsider"], world.slug)).status_code == 404
    assert len(await notes_pages(app, world.space_id)) == 1


async def test_an_agent_starts_an_ad_hoc_meeting_with_its_own_link_guests_may_not(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    outsider = world.clients["outsider"]
    started = await outsider.get("/reunion/nouvelle")
    assert started.status_code == 303
    location = started.headers["location"]
    assert re.fullmatch(r"/reunion/meet-[0-9a-f]{10}", location)
    page = await outsider.get(location)
    assert page.status_code == 200
    assert config_of(page)["room"] == location.removeprefix("/reunion/")
    assert location in page.text  # the link to share
    second = await outsider.get("/reunion/nouvelle")
    assert second.headers["location"] != location
    guest = world.clients["space_link_reader"]
    assert (await guest.get("/reunion/nouvelle")).status_code == 403
    assert (await guest.get(location)).status_code == 404
    assert (await outsider.get("/reunion/Not_A_Room")).status_code == 404
    space_room = await world.clients["owner"].get(f"/reunion/space-{world.space_id}")
    assert space_room.status_code == 303
    assert space_room.headers["location"] == f"/espaces/{world.slug}/reunion"


async def test_a_space_room_number_tells_outsiders_nothing(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    room = f"/reunion/space-{world.space_id}"
    for stranger in ("outsider", "instance_admin"):
        answer = await world.clients[stranger].get(room)
        assert answer.status_code == 404
        assert world.slug not in answer.text and "location" not in answer.headers
    unknown = await world.clients["outsider"].get(f"/reunion/space-{world.space_id + 1}")
    assert unknown.status_code == 404
    guest = await world.clients["page_link_editor"].get(room)
    assert guest.headers["location"] == f"/espaces/{world.slug}/reunion"


async def test_the_meeting_page_and_its_client_strings_follow_the_language(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    client = world.clients["editor"]
    url = f"/espaces/{world.slug}/reunion"
    french = await client.get(url)
    assert "Rejoindre la réunion" in french.text
    assert config_of(french)["strings"] == CLIENT_STRINGS
    # Chat times are shown in the person's zone: Paris until a profile says otherwise.
    assert config_of(french)["time_zone"] == "Europe/Paris"
    client.cookies.set(COOKIE_NAME, "en")
    english = await client.get(url)
    assert "Join the meeting" in english.text and "Rejoindre la réunion" not in english.text
    strings = config_of(english)["strings"]
    assert isinstance(strings, dict)
    assert strings["muteOne"] == "Mute {name}"
    assert set(strings) == set(CLIENT_STRINGS)


def test_every_french_string_of_the_meeting_pages_has_an_english_translation() -> None:
    keywords = {"_": None, "N_": None, "t": None, "gettext": None}
    found: set[str] = set()
    for path in WEB.glob("visio/*.py"):
        for _l, message, _c, _x in extract_from_file("python", path, keywords=keywords):
            found.add(message if isinstance(message, str) else message[0])
    for path in WEB.glob("templates/visio/*.html"):
        for _l, message, _c, _x in extract_from_file(
            "jinja2.ext:babel_extract",
            path,
            keywords=keywords,
            options={"extensions": "jinja2.ext.i18n"},
        ):
            found.add(message if isinstance(message, str) else message[0])
    catalog = load_catalog("en")
    missing = sorted(m for m in found if m and not (catalog.get(m) and catalog[m].string))
    assert not missing, f"add to web/locale/en/LC_MESSAGES/visio.po: {missing}"
    for message in found:
        translated = catalog.get(message)
        if message and translated:
            wanted = sorted(re.findall(r"\{\w+\}", message))
            assert sorted(re.findall(r"\{\w+\}", str(translated.string))) == wanted, message


def test_the_server_sends_the_client_every_string_it_shows_with_the_same_french_text() -> None:
    source = (WEB.parent / "editor" / "src" / "meeting" / "strings.ts").read_text()
    block = source[source.index("FRENCH_STRINGS = {") : source.index("};")]
    french = dict(re.findall(r'^\s+(\w+):\s*"((?:[^"\\]|\\.)*)",?$', block, re.M))
    assert french == CLIENT_STRINGS


async def test_the_space_home_leads_to_its_meeting_room(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    for name in ("owner", "reader", "space_link_reader"):
        home = await world.clients[name].get(f"/espaces/{world.slug}")
        assert home.status_code == 200, name
        assert f'href="/espaces/{world.slug}/reunion"' in home.text, name


async def test_agents_start_a_meeting_from_the_main_navigation(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    page = await world.clients["reader"].get("/espaces")
    assert 'href="/reunion/nouvelle"' in page.text
    guest = await world.clients["space_link_reader"].get(f"/espaces/{world.slug}")
    assert 'href="/reunion/nouvelle"' not in guest.text
