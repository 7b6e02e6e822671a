"""The page view over HTTP: who gets the editor and with what role, uploads, exports."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable

import httpx
from starlette.applications import Starlette

from tests.support.forms import csrf_token
from tests.support.images import png
from tests.support.page_reading import editor_data
from tests.support.people import Who
from tests.support.servers import ROOT
from tests.support.web_app import document_token
from web.auth.tokens import mint_document_token
from web.spaces.services import add_member, create_space
from web.spaces.tree import create_page

FIXTURES = ROOT / "tests" / "fixtures" / "tiptap"


# --- /d/{doc}?token= ------------------------------------------------------------------------


async def test_a_document_opens_with_a_token_as_editor_with_the_tokens_name(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/d/notes/a", params={"token": document_token("notes/", name="Robot")}
    )
    assert response.status_code == 200
    data = editor_data(response.text)
    assert data["doc"] == "notes/a" and data["role"] == "editor"
    assert data["user-name"] == "Robot" and re.fullmatch(r"#[0-9a-f]{6}", data["user-color"])
    assert data["status-offline"] == "Hors ligne — modifications gardées sur cet appareil"
    assert 'role="toolbar"' in response.text and 'role="status"' in response.text
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_a_read_only_token_gets_the_page_without_toolbar_or_upload(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/d/notes/a", params={"token": document_token("notes/", writable=False)}
    )
    data = editor_data(response.text)
    assert data["role"] == "reader" and "upload-url" not in data
    assert 'role="toolbar"' not in response.text and "Lecture seule" in response.text


async def test_missing_forged_expired_or_foreign_tokens_are_refused(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/d/notes/a")).status_code == 401
    forged = mint_document_token(
        "another-secret-" + "y" * 32, prefix="", writable=True, ttl=60, now=time.time()
    )
    assert (await client.get("/d/notes/a", params={"token": forged})).status_code == 401
    expired = document_token("notes/", ttl=-10)
    assert (await client.get("/d/notes/a", params={"token": expired})).status_code == 401
    foreign = await client.get("/d/notes/a", params={"token": document_token("other/")})
    assert foreign.status_code == 403 and "Accès refusé" in foreign.text


async def test_the_english_page_says_the_states_in_english(client: httpx.AsyncClient) -> None:
    client.cookies.set("atelier_langue", "en")
    response = await client.get("/d/notes/a", params={"token": document_token("notes/")})
    data = editor_data(response.text)
    assert data["status-saved"] == "Saved"
    assert data["status-offline"] == "Offline — changes kept on this device"


# --- images ---------------------------------------------------------------------------------


async def upload(
    client: httpx.AsyncClient, url: str, data: bytes, name: str = "a.png"
) -> httpx.Response:
    headers = {"X-CSRF-Token": await csrf_token(client)}
    return await client.post(url, files={"file": (name, data, "image/png")}, headers=headers)


async def test_an_uploaded_image_is_stored_once_and_served_as_an_image(
    client: httpx.AsyncClient,
) -> None:
    url = "/d/notes/a/images?token=" + document_token("notes/")
    first = await upload(client, url, png())
    assert first.status_code == 201
    again = await upload(client, url, png(), name="copy.png")
    assert again.json()["url"] == first.json()["url"]
    image = await client.get(first.json()["url"], params={"token": document_token("notes/")})
    assert image.status_code == 200 and image.content == png()
    assert image.headers["content-type"] == "image/png"
    assert image.headers["x-content-type-options"] == "nosniff"


async def test_svg_and_other_files_are_refused_with_a_clear_message(
    client: httpx.AsyncClient,
) -> None:
    url = "/d/notes/a/images?token=" + document_token("notes/")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    response = await upload(client, url, svg, name="x.svg")
    assert response.status_code == 415 and "PNG, JPEG, GIF or WebP" in response.json()["error"]
    empty = await upload(client, url, b"")
    assert empty.status_code == 422


async def test_an_image_over_the_limit_is_refused_with_413(
    make_app: Callable[..., Awaitable[Starlette]],
) -> None:
    app = await make_app(max_image_bytes=2048)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://atelier.test"
    ) as client:
        url = "/d/notes/a/images?token=" + document_token("notes/")
        response = await upload(client, url, png(64, 64) + b"\x00" * 40_000)
        assert response.status_code == 413
        small = await upload(client, url, png())
        assert small.status_code == 201


async def test_read_only_tokens_cannot_upload(client: httpx.AsyncClient) -> None:
    url = "/d/notes/a/images?token=" + document_token("notes/", writable=False)
    assert (await upload(client, url, png())).status_code == 403


async def test_unknown_or_malformed_image_names_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/fichiers/images/" + "0" * 64 + ".png")).status_code == 404
    assert (await client.get("/fichiers/images/..%2Fsecret_key")).status_code == 404


# --- export ---------------------------------------------------------------------------------


async def test_export_reads_the_stored_document(app: Starlette, client: httpx.AsyncClient) -> None:
    app.state.store.append("notes/rich", (FIXTURES / "rich_page.bin").read_bytes())
    await app.state.store.flush()
    query = {"token": document_token("notes/", writable=False)}
    markdown = await client.get("/d/notes/rich/export.md", params=query)
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text.startswith("# Réunion du 3 mars\n")
    html = await client.get("/d/notes/rich/export.html", params=query)
    assert "<h1>Réunion du 3 mars</h1>" in html.text
    assert "attachment" in html.headers["content-disposition"]


# --- pages of spaces ------------------------------------------------------------------------


async def test_a_space_page_opens_the_editor_with_the_members_role(
    app: Starlette,
    new_client: Callable[[], httpx.AsyncClient],
    make_user: Callable[..., Awaitable[int]],
    signed_in: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    engine = app.state.engine
    owner = Who(await make_user("chef@example.gouv.fr"), display_name="Chef")
    reader = Who(await make_user("lecteur@example.gouv.fr"))
    await make_user("autre@example.gouv.fr")
    space = await create_space(engine, owner, name="Projet Pont")
    await add_member(engine, owner, space.id, reader.id, "reader")
    home = await create_page(engine, owner, space.id, "Accueil")
    page = await create_page(engine, owner, space.id, "Compte rendu", parent_id=home.id)
    url = f"/espaces/{space.slug}/pages/{page.id}"

    chef = await signed_in(new_client(), "chef@example.gouv.fr")
    response = await chef.get(url)
    assert response.status_code == 200
    data = editor_data(response.text)
    assert data["doc"] == page.doc_name and data["role"] == "owner"
    assert data["user-name"] == "Chef" and data["upload-url"] == url + "/images"
    # The link dialog offers the other pages; the tree beside shows them all, this one current.
    assert f'role="option" aria-selected="false" data-url="{url.rsplit("/", 1)[0]}/{home.id}"' in (
        response.text
    )
    assert f'data-rename-url="{url}/renommer"' in response.text  # the title, edited in place
    tree = response.text.split("data-page-tree")[1].split("</nav>")[0]
    assert f'href="{url}" aria-current="page">Compte rendu</a>' in tree and "Accueil" in tree
    assert "data-editable" in response.text.split("data-page-tree")[1].split(">")[0]

    lecteur = await signed_in(new_client(), "lecteur@example.gouv.fr")
    as_reader = await lecteur.get(url)
    assert editor_data(as_reader.text)["role"] == "reader"
    assert 'role="toolbar"' not in as_reader.text
    # A reader sees the tree, but can neither drag it nor rename the page.
    assert "data-page-tree" in as_reader.text and "data-rename-url" not in as_reader.text
    assert "data-editable" not in as_reader.text.split("data-page-tree")[1].split(">")[0]
    refused = await upload(lecteur, url + "/images", png())
    assert refused.status_code == 403

    uploaded = await upload(chef, url + "/images", png())
    assert uploaded.status_code == 201
    image_url = uploaded.json()["url"]
    assert image_url.startswith(url + "/images/")
    assert (await lecteur.get(image_url)).content == png()

    outsider = await signed_in(new_client(), "autre@example.gouv.fr")
    assert (await outsider.get(url)).status_code == 404
    assert (await outsider.get(url + "/export.md")).status_code == 404
    assert (await outsider.get(image_url)).status_code == 404
    wrong_space = await chef.get(f"/espaces/autre-espace/pages/{page.id}")
    assert wrong_space.status_code == 404

    anonymous = new_client()
    assert (await anonymous.get(url)).status_code == 303
