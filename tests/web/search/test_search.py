"""Full-text search over pages (`/recherche?q=`): who finds what, matching, snippets, indexing.

The access rules and matching run on SQLite and on PostgreSQL when one answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from pycrdt import Doc, XmlElement, XmlFragment, XmlText
from starlette.applications import Starlette

from realtime.extract import document_blocks
from realtime.protocol import SyncUpdate
from tests.support.page_reading import page_text
from tests.support.people import Who, add_person, sign_in_as
from tests.support.servers import ROOT
from tests.support.spaces_world import open_link
from tests.support.waiting import eventually
from web.i18n import COOKIE_NAME as LOCALE_COOKIE
from web.search.indexer import PageIndexer
from web.search.service import search_pages
from web.search.text import fold, plain_text, snippet, terms_of
from web.spaces import guest_links, services, tree

FIXTURES = ROOT / "tests" / "fixtures" / "tiptap"


def page_update(*paragraphs: str, doc: Doc | None = None) -> bytes:
    """A Yjs update adding paragraphs as TipTap lays them out (XmlFragment "default")."""
    doc = doc or Doc()
    fragment = doc.get("default", type=XmlFragment)
    before = doc.get_state()
    for text in paragraphs:
        fragment.children.append(XmlElement("paragraph", {}, [XmlText(text)]))
    return doc.get_update(before)


def indexer(app: Starlette) -> PageIndexer:
    found: PageIndexer = app.state.search_indexer
    return found


async def write_page(app: Starlette, doc_name: str, *paragraphs: str) -> None:
    app.state.store.append(doc_name, page_update(*paragraphs))
    await app.state.store.flush()


async def titles(app: Starlette, who: Who, query: str) -> list[str]:
    return [hit.title for hit in await search_pages(app.state.engine, who, query)]


async def guest_of(
    app: Starlette, browsers: Callable[[], httpx.AsyncClient], token: str, link_id: int
) -> tuple[Who, httpx.AsyncClient]:
    from sqlalchemy import select

    from web.spaces.tables import guest_link_users

    client = browsers()
    response = await open_link(client, token, "Invitée")
    assert response.status_code == 303, response.text
    async with app.state.engine.connect() as conn:
        user_id = (
            await conn.execute(
                select(guest_link_users.c.user_id).where(
                    guest_link_users.c.guest_link_id == link_id
                )
            )
        ).scalar_one()
    return Who(user_id, "guest", link_id, "Invitée"), client


# --- text ---------------------------------------------------------------------------------


def test_folding_ignores_case_and_accents() -> None:
    assert fold("Élève À LA Forêt, Œuvre") == "eleve a la foret, œuvre"
    assert terms_of("  Forêt forêt ÉTÉ ") == ["foret", "ete"]


def test_plain_text_puts_each_block_on_its_own_line() -> None:
    text = plain_text(document_blocks((FIXTURES / "rich_page.bin").read_bytes()))
    assert text.splitlines()[0] == "Réunion du 3 mars"
    assert "def f(x):" in text


def test_a_snippet_escapes_the_page_text_then_marks_the_match() -> None:
    body = "Début. " + "x " * 200 + "<script>alert(1)</script> la Forêt & le pré " + "y " * 200
    html = str(snippet(body, terms_of("foret")))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<mark>Forêt</mark> &amp; le pré" in html
    assert html.startswith("…") and html.endswith("…") and len(html) < 400


# --- who finds what (SQLite and PostgreSQL) -----------------------------------------------


async def test_members_find_pages_by_words_in_title_or_text_whatever_accents_and_case(
    db_app: Starlette,
) -> None:
    engine = db_app.state.engine
    owner = await add_person(db_app, "owner")
    space = await services.create_space(engine, owner, name="Projet Forêts")
    notes = await tree.create_page(engine, owner, space.id, "Réunion de l'équipe")
    plan = await tree.create_page(engine, owner, space.id, "Plan")
    await write_page(db_app, notes.doc_name, "Ordre du jour", "Les ÉLÈVES visitent la forêt.")
    await write_page(db_app, plan.doc_name, "Rien à voir, 100% _sûr_.")
    assert await indexer(db_app).refresh() == 2

    assert await titles(db_app, owner, "eleves FORET") == ["Réunion de l'équipe"]
    assert await titles(db_app, owner, "réunion") == ["Réunion de l'équipe"]
    assert await titles(db_app, owner, "Équipe élèves") == ["Réunion de l'équipe"]
    assert await titles(db_app, owner, "eleves plan") == []  # every word must match
    # LIKE wildcards in a query are plain characters.
    assert await titles(db_app, owner, "100%") == ["Plan"]
    assert await titles(db_app, owner, "%") == ["Plan"]
    assert await titles(db_app, owner, "_") == ["Plan"]


async def test_a_page_in_a_private_space_never_reaches_a_non_member_even_by_title(
    db_app: Starlette, browsers: Callable[[], httpx.AsyncClient]
) -> None:
    engine = db_app.state.engine
    owner = await add_person(db_app, "owner")
    reader = await add_person(db_app, "reader")
    outsider = await add_person(db_app, "outsider")
    instance_admin = await add_person(db_app, "instance_admin", role="admin")
    space = await services.create_space(engine, owner, name="Dossiers RH")
    await services.add_member(engine, owner, space.id, reader.id, "reader")
    page = await tree.create_page(engine, owner, space.id, "Salaires confidentiels")
    await write_page(db_app, page.doc_name, "Grille des salaires secrète.")
    await indexer(db_app).refresh()

    assert await titles(db_app, reader, "confidentiels") == ["Salaires confidentiels"]
    for person in (outsider, instance_admin):
        assert await titles(db_app, person, "confidentiels") == []
        assert await titles(db_app, person, "secrète") == []
        client = browsers()
        await sign_in_as(db_app, client, person)
        response = await client.get("/recherche", params={"q": "salaires"})
        assert response.status_code == 200
        assert "confidentiels" not in response.text and "Dossiers RH" not in response.text
        assert "Aucune page ne correspond à « salaires »." in page_text(response)


async def test_agents_find_pages_of_listed_spaces_and_guests_do_not(
    db_app: Starlette, browsers: Callable[[], httpx.AsyncClient]
) -> None:
    engine = db_app.state.engine
    owner = await add_person(db_app, "owner")
    agent = await add_person(db_app, "agent")
    listed = await services.create_space(engine, owner, name="Vitrine", visibility="listed")
    public = await tree.create_page(engine, owner, listed.id, "Guide des castors")
    other = await services.create_space(engine, owner, name="Autre")
    elsewhere = await tree.create_page(engine, owner, other.id, "Ailleurs")
    link = await guest_links.create_guest_link(
        engine, owner, other.id, role="reader", page_id=elsewhere.id
    )
    guest, _ = await guest_of(db_app, browsers, link.token, link.link.id)
    await indexer(db_app).refresh()

    assert await titles(db_app, agent, "castors") == [public.title]
    assert await titles(db_app, guest, "castors") == []


async def test_a_guest_finds_only_the_item_of_its_live_link(
    db_app: Starlette, browsers: Callable[[], httpx.AsyncClient]
) -> None:
    engine = db_app.state.engine
    owner = await add_person(db_app, "owner")
    space = await services.create_space(engine, owner, name="Chantier")
    shared = await tree.create_page(engine, owner, space.id, "Planning partagé")
    child = await tree.create_page(engine, owner, space.id, "Planning interne", parent_id=shared.id)
    other_space = await services.create_space(engine, owner, name="Autre chantier")
    await tree.create_page(engine, owner, other_space.id, "Planning d'ailleurs")
    await indexer(db_app).refresh()

    page_link = await guest_links.create_guest_link(
        engine, owner, space.id, role="editor", page_id=shared.id
    )
    page_guest, client = await guest_of(db_app, browsers, page_link.token, page_link.link.id)
    assert await titles(db_app, page_guest, "planning") == ["Planning partagé"]
    response = await client.get("/recherche", params={"q": "planning"})
    assert f'/pages/{shared.id}"><mark>Planning</mark> partagé</a>' in page_text(response)
    assert "interne" not in response.text and "ailleurs" not in response.text

    space_link = await guest_links.create_guest_link(engine, owner, space.id, role="reader")
    space_guest, _ = await guest_of(db_app, browsers, space_link.token, space_link.link.id)
    found = await titles(db_app, space_guest, "planning")
    assert sorted(found) == [child.title, shared.title]

    await guest_links.revoke_guest_link(engine, owner, space_link.link.id)
    assert await titles(db_app, space_guest, "planning") == []


async def test_trashed_pages_are_not_found_until_restored(db_app: Starlette) -> None:
    engine = db_app.state.engine
    owner = await add_person(db_app, "owner")
    space = await services.create_space(engine, owner, name="Archives")
    parent = await tree.create_page(engine, owner, space.id, "Parent")
    child = await tree.create_page(engine, owner, space.id, "Enfant", parent_id=parent.id)
    await write_page(db_app, child.doc_name, "Un mot rare : zéphyr.")
    await indexer(db_app).refresh()
    assert await titles(db_app, owner, "zephyr") == ["Enfant"]

    await tree.trash_page(engine, owner, parent.id)  # the child goes with it
    assert await titles(db_app, owner, "zephyr") == []
    assert await titles(db_app, owner, "enfant") == []

    await tree.restore_page(engine, owner, parent.id)
    assert await titles(db_app, owner, "zephyr") == ["Enfant"]


async def test_a_renamed_page_is_found_by_its_new_title_after_indexing(
    db_app: Starlette,
) -> None:
    engine = db_app.state.engine
    owner = await add_person(db_app, "owner")
    space = await services.create_space(engine, owner, name="Notes")
    page = await tree.create_page(engine, owner, space.id, "Brouillon")
    await indexer(db_app).refresh()
    await tree.rename_page(engine, owner, page.id, "Compte rendu définitif")
    assert await indexer(db_app).refresh() == 1
    assert await titles(db_app, owner, "definitif") == ["Compte rendu définitif"]
    assert await titles(db_app, owner, "brouillon") == []
    assert await indexer(db_app).refresh() == 0  # nothing changed since


# --- live edits ---------------------------------------------------------------------------


class Sink:
    """Stands for a client socket."""

    async def send(self, data: bytes) -> None:
        pass

    async def close(self, code: int, reason: str) -> None:
        pass


async def test_an_edit_made_live_in_a_room_becomes_findable_after_indexing(
    db_app: Starlette,
) -> None:
    engine, rooms = db_app.state.engine, db_app.state.rooms
    owner = await add_person(db_app, "owner")
    space = await services.create_space(engine, owner, name="Atelier vivant")
    page = await tree.create_page(engine, owner, space.id, "Page vivante")
    await indexer(db_app).refresh()
    assert await titles(db_app, owner, "hippocampe") == []

    sink = Sink()
    conn = rooms.new_connection(sink.send, sink.close)
    await rooms.join(page.doc_name, conn, writable=True)
    client_doc = Doc()
    rooms.receive(
        page.doc_name, conn, bytes(SyncUpdate(page_update("Un hippocampe", doc=client_doc)))
    )
    assert await indexer(db_app).refresh() == 1
    assert await titles(db_app, owner, "HIPPOCAMPE") == ["Page vivante"]

    # Typing on, then leaving: once the room is unloaded, the pass reads the last words
    # from the store.
    update = page_update("puis une libellule", doc=client_doc)
    rooms.receive(page.doc_name, conn, bytes(SyncUpdate(update)))
    await rooms.leave(page.doc_name, conn)
    await eventually(lambda: page.doc_name not in rooms.loaded, what="the room to unload")
    assert await indexer(db_app).refresh() == 1
    assert await titles(db_app, owner, "libellule hippocampe") == ["Page vivante"]


async def test_a_starting_server_indexes_the_pages_it_finds(
    make_app: Callable[..., Awaitable[Starlette]],
) -> None:
    first = await make_app()
    engine = first.state.engine
    owner = await add_person(first, "owner")
    space = await services.create_space(engine, owner, name="Déjà là")
    page = await tree.create_page(engine, owner, space.id, "Ancienne page")
    await write_page(first, page.doc_name, "Écrite avant la recherche : ornithorynque.")

    second = await make_app()  # same database: its indexer's first pass finds the page
    found = await eventually(lambda: titles(second, owner, "ornithorynque"), what="the page")
    assert found == ["Ancienne page"]


# --- the page -----------------------------------------------------------------------------


async def test_the_results_page_shows_title_space_and_highlighted_snippet(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    engine = app.state.engine
    owner = await add_person(app, "owner")
    space = await services.create_space(engine, owner, name="Projet <Pont>")
    page = await tree.create_page(engine, owner, space.id, "Étude <b>du</b> pont")
    await write_page(app, page.doc_name, "Le <i>béton</i> du pont est fissuré.")
    await indexer(app).refresh()
    await sign_in_as(app, client, owner)

    response = await client.get("/recherche", params={"q": "beton"})
    assert response.status_code == 200
    text = response.text
    assert f'href="/espaces/{space.slug}/pages/{page.id}"' in text
    assert "Étude &lt;b&gt;du&lt;/b&gt; pont" in text
    assert "Projet &lt;Pont&gt;" in text
    assert "Le &lt;i&gt;<mark>béton</mark>&lt;/i&gt; du pont est fissuré." in text
    assert "1 page trouvée." in text
    title = await client.get("/recherche", params={"q": "<b>"})
    assert "<mark>&lt;b&gt;</mark>" in title.text


async def test_the_search_page_prompts_when_empty_and_speaks_english(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    owner = await add_person(app, "owner")
    await sign_in_as(app, client, owner)
    empty = await client.get("/recherche")
    assert empty.status_code == 200
    assert "Majuscules et accents ne comptent pas." in page_text(empty)
    assert 'role="search"' in empty.text and 'action="/recherche"' in empty.text

    client.cookies.set(LOCALE_COOKIE, "en")
    english = await client.get("/recherche", params={"q": "absent"})
    assert "No page matches “absent”." in page_text(english)
    assert 'aria-label="Search the pages"' in english.text or "Search the pages" in english.text
    empty_english = await client.get("/recherche")
    assert "Capitals and accents do not matter." in page_text(empty_english)


async def test_searching_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.get("/recherche", params={"q": "x"})
    assert response.status_code in (302, 303)
    assert "/connexion" in response.headers["location"]
