"""The routes of a space's page tree as its script uses them (JSON, with the CSRF header),
the toast that undoes a move to the trash, and the description written in Markdown."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from starlette.applications import Starlette

from tests.support.forms import csrf_token, post_form
from tests.support.people import add_person, sign_in_as
from web.spaces import services, tree


async def _script(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    """A POST as the tree's script sends it: the token in a header, asking for JSON."""
    headers = {"X-CSRF-Token": await csrf_token(client), "Accept": "application/json"}
    return await client.post(path, data=data, headers=headers)


def _shape(nodes: list[tree.PageNode]) -> list[object]:
    return [(n.title, _shape(n.children)) if n.children else n.title for n in nodes]


async def test_the_tree_script_creates_moves_and_renames_pages_and_hears_refusals(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    engine = app.state.engine
    owner = await add_person(app, "owner")
    reader = await add_person(app, "reader")
    space = await services.create_space(engine, owner, name="Projet Pont")
    await services.add_member(engine, owner, space.id, reader.id, "reader")
    home = await tree.create_page(engine, owner, space.id, "Accueil")
    notes = await tree.create_page(engine, owner, space.id, "Notes")
    base = f"/espaces/{space.slug}"
    client, other = new_client(), new_client()
    await sign_in_as(app, client, owner)
    await sign_in_as(app, other, reader)

    created = await _script(
        client, base + "/pages", {"title": " Budget ", "parent_id": str(home.id)}
    )
    assert created.status_code == 200
    child = created.json()
    assert child["title"] == "Budget" and child["url"] == f"{base}/pages/{child['id']}"

    moved = await _script(
        client, f"{base}/pages/{notes.id}/deplacer", {"parent_id": str(home.id), "position": "0"}
    )
    assert moved.status_code == 200 and moved.json() == {"ok": True}
    renamed = await _script(
        client, f"{base}/pages/{notes.id}/renommer", {"title": "  Notes   du jour "}
    )
    assert renamed.json() == {"ok": True, "title": "Notes du jour"}
    assert _shape(await tree.page_tree(engine, space.id)) == [
        ("Accueil", ["Notes du jour", "Budget"])
    ]

    # Refusals come back as JSON with their status and the message people read.
    under_itself = await _script(
        client, f"{base}/pages/{home.id}/deplacer", {"parent_id": str(notes.id)}
    )
    assert under_itself.status_code == 422
    assert "une page ne peut pas aller sous elle-même" in under_itself.json()["error"]
    as_reader = await _script(other, f"{base}/pages/{notes.id}/renommer", {"title": "Piraté"})
    assert as_reader.status_code == 403 and "ne permet pas" in as_reader.json()["error"]
    empty = await _script(client, f"{base}/pages/{notes.id}/renommer", {"title": "   "})
    assert empty.status_code == 422 and "obligatoire" in empty.json()["error"]
    assert _shape(await tree.page_tree(engine, space.id)) == [
        ("Accueil", ["Notes du jour", "Budget"])
    ]

    # The space's home and its pages show the tree beside them; a reader's cannot be dragged.
    page = await client.get(f"{base}/pages/{notes.id}")
    assert 'data-page-tree data-base="/espaces/projet-pont" data-editable' in page.text
    assert "data-page-tree" in (await client.get(base)).text
    assert "data-editable" not in (await other.get(base)).text.split("data-page-tree")[1][:60]


async def test_a_page_put_in_the_trash_can_be_brought_back_from_the_toast(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    engine = app.state.engine
    owner = await add_person(app, "owner")
    space = await services.create_space(engine, owner, name="Projet Pont")
    page = await tree.create_page(engine, owner, space.id, "Brouillon")
    client = new_client()
    await sign_in_as(app, client, owner)
    base = f"/espaces/{space.slug}"

    trashed = await post_form(client, f"{base}/pages/{page.id}/corbeille", {"back": "organiser"})
    assert trashed.status_code == 303
    assert trashed.headers["location"] == f"{base}/organiser?corbeille={page.id}"
    landed = await client.get(trashed.headers["location"])
    assert "Page placée dans la corbeille" in landed.text
    assert f'action="{base}/pages/{page.id}/restaurer"' in landed.text
    assert "Annuler" in landed.text.split("data-trash-toast")[1]

    restored = await post_form(client, f"{base}/pages/{page.id}/restaurer")
    assert restored.status_code == 303
    assert [n.title for n in await tree.page_tree(engine, space.id)] == ["Brouillon"]
    # No toast without a page just trashed, nor for an address typed by hand.
    for query in ("", "?corbeille=abc", "?corbeille=²", "?corbeille=99999999999"):
        assert "data-trash-toast" not in (await client.get(base + query)).text


async def test_the_description_shows_bold_italics_lists_and_links_written_in_markdown(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    owner = await add_person(app, "owner")
    client = new_client()
    await sign_in_as(app, client, owner)
    description = (
        "Le **pont** de la *rivière*.\n\n- relevés\n- [plans](https://plans.example.fr)\n"
        "- [piège](javascript:alert(1))"
    )
    response = await post_form(
        client,
        "/espaces",
        {"name": "Pont", "kind": "project", "visibility": "private", "description": description},
    )
    home = (await client.get(response.headers["location"])).text
    shown = home.split('class="atelier-description">')[1].split("</div>")[0]
    assert "Le <strong>pont</strong> de la <em>rivière</em>." in shown
    assert "<li>relevés</li>" in shown
    assert (
        '<a href="https://plans.example.fr" rel="noopener noreferrer nofollow">plans</a>' in shown
    )
    assert (
        "javascript" not in shown.replace("[piège](javascript:alert(1))", "") and "<a>" not in shown
    )
