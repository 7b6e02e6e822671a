"""Pages written before images belonged to pages keep showing their images to their readers.

The upgrade reads every stored document (and page version) once and notes the images it
shows at its own page's address or at the old shared address; an image another page's
address points to is not noted (an editor who can see it brings it over later).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
from alembic import command
from pycrdt import Doc, XmlElement, XmlFragment
from sqlalchemy import delete, select
from starlette.applications import Starlette

from tests.support.forms import csrf_token
from tests.support.images import png
from tests.support.spaces_world import build_world
from web.database import alembic_config, database_url, migrate
from web.pages.image_access import document_images
from web.pages.versions import save_version


def tiptap_state(*sources: str) -> bytes:
    """A page's document as y-prosemirror stores it: one image node per address."""
    doc: Doc[XmlFragment] = Doc()
    fragment = doc.get("default", type=XmlFragment)
    for src in sources:
        fragment.children.append(XmlElement("image", {"src": src, "alt": "schéma"}))
    return doc.get_update()


async def test_images_shown_by_pages_before_the_upgrade_are_served_to_their_readers_after(
    db_app: Starlette, browsers: Callable[[], httpx.AsyncClient], database: str | None
) -> None:
    app = db_app
    world = await build_world(app, browsers)
    engine = app.state.engine
    here = f"/espaces/{world.slug}/pages/{world.page.id}"
    other = await world.new_page("Autre")
    there = f"/espaces/{world.slug}/pages/{other.id}"
    owner = world.clients["owner"]
    names = []
    for n in range(5):  # stored bytes, as uploads left them
        response = await owner.post(
            f"{here}/images",
            files={"file": ("a.png", png(10 + n), "image/png")},
            headers={"X-CSRF-Token": await csrf_token(owner)},
        )
        names.append(response.json()["url"].rsplit("/", 1)[1])
    own, shared, foreign, in_version, token_doc = names
    app.state.store.append(
        world.page.doc_name,
        tiptap_state(f"{here}/images/{own}", f"/fichiers/images/{shared}", f"{there}/images/x"),
    )
    app.state.store.append(world.page.doc_name, tiptap_state(f"{there}/images/{foreign}"))
    app.state.store.append("notes/a", tiptap_state(f"/fichiers/images/{token_doc}"))
    app.state.store.append("notes/broken", b"\x00\xff\xff not a document")
    await app.state.store.flush()
    await save_version(engine, world.page.id, tiptap_state(f"{here}/images/{in_version}"))
    # As before this change: no image is noted as belonging anywhere.
    async with engine.begin() as conn:
        await conn.execute(delete(document_images))
    assert (await owner.get(f"{here}/images/{own}")).status_code == 404

    url = database_url(app.state.settings.data_path.resolve(), database)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0004v")
    await asyncio.to_thread(migrate, url)

    async with engine.connect() as conn:
        rows = await conn.execute(select(document_images.c.doc_name, document_images.c.name))
        noted = {(doc, name) for doc, name in rows}
    assert noted == {
        (world.page.doc_name, own),
        (world.page.doc_name, shared),
        (world.page.doc_name, in_version),
        ("notes/a", token_doc),
    }
    reader, outsider = world.clients["reader"], world.clients["outsider"]
    for name in (own, shared, in_version):
        assert (await reader.get(f"{here}/images/{name}")).content == png(10 + names.index(name))
        assert (await outsider.get(f"{here}/images/{name}")).status_code == 404
    assert (await reader.get(f"/fichiers/images/{shared}")).status_code == 200
    assert (await outsider.get(f"/fichiers/images/{shared}")).status_code == 404
    assert (await reader.get(f"{here}/images/{foreign}")).status_code == 404
