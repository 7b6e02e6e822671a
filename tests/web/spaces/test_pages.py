"""The spaces pages over HTTP: lists, empty states, creation, escaping, bad input, guests."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.forms import csrf_token, post_form, token_in
from tests.support.people import Who, add_person, sign_in_as
from tests.support.spaces_world import build_world, open_link
from web.spaces import guest_links, services, tree


async def _agent(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient], name: str = "agent"
) -> tuple[Who, httpx.AsyncClient]:
    person = await add_person(app, name)
    client = new_client()
    await sign_in_as(app, client, person)
    return person, client


async def test_an_agent_creates_a_space_and_lands_on_its_empty_home(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    _, client = await _agent(app, new_client)
    empty = await client.get("/espaces")
    assert "Vous n’êtes membre d’aucun espace" in empty.text
    response = await post_form(
        client,
        "/espaces",
        {"name": "Équipe Cloud", "kind": "community", "visibility": "listed", "description": ""},
    )
    assert response.status_code == 303 and response.headers["location"] == "/espaces/equipe-cloud"
    home = await client.get("/espaces/equipe-cloud")
    assert home.status_code == 200
    assert "Aucune page pour l’instant — créez la première" in home.text
    assert "Équipe Cloud" in (await client.get("/espaces")).text


async def test_pages_created_from_the_home_appear_in_its_tree(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    client = world.clients["editor"]
    response = await post_form(client, f"/espaces/{world.slug}/pages", {"title": "Compte rendu"})
    assert response.status_code == 303
    assert re.fullmatch(rf"/espaces/{world.slug}/pages/\d+", response.headers["location"])
    home = await client.get(f"/espaces/{world.slug}")
    assert "Compte rendu" in home.text and "Page partagée" in home.text


async def test_html_in_names_is_escaped_and_descriptions_are_sanitised(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    _, client = await _agent(app, new_client)
    response = await post_form(
        client,
        "/espaces",
        {
            "name": "<script>alert('nom')</script>",
            "kind": "project",
            "visibility": "private",
            "description": "<em>ok</em><img src=x onerror=alert(1)><script>alert(2)</script>",
        },
    )
    home = await client.get(response.headers["location"])
    assert "<script>alert" not in home.text and "onerror" not in home.text
    assert "&lt;script&gt;alert(&#39;nom&#39;)&lt;/script&gt;" in home.text
    assert "<em>ok</em>" in home.text
    slug = response.headers["location"].rsplit("/", 1)[1]
    await post_form(client, f"/espaces/{slug}/pages", {"title": "<b>gras</b>"})
    assert "&lt;b&gt;gras&lt;/b&gt;" in (await client.get(f"/espaces/{slug}")).text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "kind": "project", "visibility": "private"}, "ce champ est obligatoire"),
        ({"name": "x", "kind": "banane", "visibility": "private"}, "Type : choisissez parmi"),
        ({"name": "x" * 300, "kind": "project", "visibility": "private"}, "200 caractères"),
        ({}, "ce champ est obligatoire"),
    ],
)
async def test_a_bad_space_form_gets_a_clear_4xx_and_keeps_what_was_typed(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient], data: dict[str, str], message: str
) -> None:
    _, client = await _agent(app, new_client)
    response = await post_form(client, "/espaces", data)
    assert response.status_code == 422
    assert message in response.text


@pytest.mark.parametrize(
    ("path", "data", "status"),
    [
        ("/espaces/{slug}/pages", {"title": ""}, 422),
        ("/espaces/{slug}/pages", {"title": "x", "parent_id": "abc"}, 422),
        ("/espaces/{slug}/pages", {"title": "x", "parent_id": "99999999999999999999"}, 422),
        ("/espaces/{slug}/pages", {"title": "x", "parent_id": "424242"}, 404),
        ("/espaces/{slug}/pages/{page}/deplacer", {"parent_id": "{page}"}, 422),
        ("/espaces/{slug}/pages/{page}/ordre", {"direction": "sideways"}, 422),
        ("/espaces/{slug}/pages/99999999999/renommer", {"title": "x"}, 404),
        ("/espaces/{slug}/membres/role", {"user_id": "", "role": "reader"}, 422),
        ("/espaces/{slug}/membres/role", {"user_id": "{owner}", "role": "chef"}, 422),
        ("/espaces/{slug}/membres/inviter", {"email": "pas une adresse", "role": "reader"}, 422),
        ("/espaces/{slug}/liens", {"item": "", "role": "owner"}, 422),
        ("/espaces/{slug}/liens", {"item": "", "role": "reader", "days": "-3"}, 422),
        ("/espaces/{slug}/liens", {"item": "", "role": "reader", "days": "1e9"}, 422),
        ("/espaces/nope/pages", {"title": "x"}, 404),
    ],
)
async def test_bad_input_to_spaces_forms_is_a_clear_4xx_never_a_500(
    app: Starlette,
    new_client: Callable[[], httpx.AsyncClient],
    path: str,
    data: dict[str, str],
    status: int,
) -> None:
    world = await build_world(app, new_client)
    values = {"slug": world.slug, "page": str(world.page.id), "owner": str(world.owner.id)}
    path = path.format(**values)
    data = {k: v.format(**values) for k, v in data.items()}
    response = await post_form(world.clients["owner"], path, data)
    assert response.status_code == status, response.text
    assert 'role="alert"' in response.text


async def test_a_malformed_form_body_is_a_4xx(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    client = world.clients["owner"]
    token = await csrf_token(client)
    response = await client.post(
        f"/espaces/{world.slug}/pages",
        content=b"--x\r\nnot really multipart",
        headers={"content-type": "multipart/form-data; boundary=x", "x-csrf-token": token},
    )
    assert 400 <= response.status_code < 500


async def test_the_last_owner_is_told_why_they_cannot_leave(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    response = await post_form(world.clients["owner"], f"/espaces/{world.slug}/quitter")
    assert response.status_code == 409 and "dernier propriétaire" in response.text
    response = await post_form(world.clients["reader"], f"/espaces/{world.slug}/quitter")
    assert response.status_code == 303 and response.headers["location"] == "/espaces"
    assert (await world.clients["reader"].get(f"/espaces/{world.slug}")).status_code == 404


async def test_a_page_link_guest_sees_only_its_page(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    engine = app.state.engine
    new = await guest_links.create_guest_link(
        engine, world.owner, world.space_id, role="reader", page_id=world.page.id
    )
    client = new_client()
    response = await open_link(client, new.token, "Paula <Partenaire>")
    assert response.status_code == 303
    assert response.headers["location"] == f"/espaces/{world.slug}/pages/{world.page.id}"
    for path in ("/annuaire", "/espaces/nouveau"):
        assert (await client.get(path)).status_code == 403, path
    # "Espaces" (where the header's "Accueil" leads): its page.
    spaces = await client.get("/espaces")
    assert spaces.headers["location"] == f"/espaces/{world.slug}/pages/{world.page.id}"
    for name in ("membres", "organiser", "liens", "corbeille"):
        path = f"/espaces/{world.slug}/{name}"
        assert (await client.get(path)).status_code == 404, path
    # The space home sends it back to its page.
    home = await client.get(f"/espaces/{world.slug}")
    assert home.headers["location"] == f"/espaces/{world.slug}/pages/{world.page.id}"
    other = await services.create_space(engine, world.owner, name="Ailleurs", visibility="listed")
    assert (await client.get(f"/espaces/{other.slug}")).status_code == 404


async def test_a_space_link_guest_reads_the_space_home_but_not_its_members(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    client = world.clients["space_link_reader"]
    home = await client.get(f"/espaces/{world.slug}")
    assert home.status_code == 200 and "Page partagée" in home.text
    assert "/membres" not in home.text
    assert (await client.get(f"/espaces/{world.slug}/membres")).status_code == 403


async def test_an_expired_or_revoked_link_is_refused_with_a_clear_message(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    engine = app.state.engine
    new = await guest_links.create_guest_link(engine, world.owner, world.space_id, role="reader")
    await guest_links.revoke_guest_link(engine, world.owner, new.link.id)
    response = await new_client().get(f"/invite/{new.token}")
    assert response.status_code == 410 and "révoqué" in response.text
    assert (await new_client().get("/invite/inconnu")).status_code == 404


async def test_revoking_a_link_cuts_its_guest_off_at_once(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    guest = world.clients["space_link_reader"]
    assert (await guest.get(f"/espaces/{world.slug}")).status_code == 200
    link_id = world.people["space_link_reader"].guest_link_id
    response = await post_form(
        world.clients["owner"], f"/espaces/{world.slug}/liens/{link_id}/revoquer"
    )
    assert response.status_code == 303
    after = await guest.get(f"/espaces/{world.slug}")
    assert after.status_code != 200


async def test_the_links_page_shows_a_new_link_once_and_lists_its_creator(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    client = world.clients["editor"]
    response = await post_form(
        client,
        f"/espaces/{world.slug}/liens",
        {"item": str(world.page.id), "role": "commenter", "days": "", "label": "Prestataire"},
    )
    assert response.status_code == 201
    url = re.search(r'value="(http[^"]+/invite/[^"]+)"', response.text)
    assert url is not None
    listing = await client.get(f"/espaces/{world.slug}/liens")
    assert "Prestataire" in listing.text and "Editor" in listing.text
    # The two links the owner made (see build_world) cannot be revoked by an editor.
    assert listing.text.count("/revoquer") == 1
    assert (await world.clients["owner"].get(f"/espaces/{world.slug}/liens")).text.count(
        "/revoquer"
    ) == 3
    assert url.group(1) not in listing.text
    guest = new_client()
    token = url.group(1).rsplit("/", 1)[1]
    assert (await open_link(guest, token, "Presta")).status_code == 303


async def test_an_outsider_invited_by_email_gets_a_mail_and_enters_the_space(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    response = await post_form(
        world.clients["admin"],
        f"/espaces/{world.slug}/membres/inviter",
        {"email": "Partenaire@Entreprise.fr", "role": "commenter", "display_name": "Paul"},
    )
    assert response.status_code == 303
    mail = (await app.state.mailer.recent())[0]
    assert mail.to_address == "partenaire@entreprise.fr"
    path = re.search(r"/invitation/[A-Za-z0-9_\-]+", mail.body)
    assert path is not None
    guest = new_client()
    form = await guest.get(path.group(0))
    entered = await guest.post(path.group(0), data={"csrf_token": token_in(form.text)})
    assert entered.status_code == 303 and entered.headers["location"] == f"/espaces/{world.slug}"
    assert (await guest.get(f"/espaces/{world.slug}")).status_code == 200
    assert (await guest.get("/annuaire")).status_code == 403
    assert (await guest.get("/espaces/nouveau")).status_code == 403


async def test_the_directory_finds_agents_and_shows_spaces_in_common(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    client = world.clients["reader"]
    found = await client.get("/annuaire?q=editor")
    assert found.status_code == 200 and "Editor" in found.text
    profile = await client.get(f"/annuaire/{world.people['editor'].id}")
    assert profile.status_code == 200 and world.slug in profile.text
    outsider_view = await world.clients["outsider"].get(f"/annuaire/{world.people['editor'].id}")
    assert "Aucun espace en commun" in outsider_view.text
    assert (await client.get("/annuaire/999999")).status_code == 404


async def test_trash_and_restore_over_http(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    client = world.clients["editor"]
    page = await tree.create_page(app.state.engine, world.owner, world.space_id, "À jeter")
    await post_form(client, f"/espaces/{world.slug}/pages/{page.id}/corbeille")
    assert "À jeter" not in (await client.get(f"/espaces/{world.slug}")).text
    trash = await client.get(f"/espaces/{world.slug}/corbeille")
    assert "À jeter" in trash.text
    restored = await post_form(client, f"/espaces/{world.slug}/pages/{page.id}/restaurer")
    assert restored.status_code == 303
    assert "À jeter" in (await client.get(f"/espaces/{world.slug}")).text
