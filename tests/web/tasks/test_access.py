"""Access to tasks that the literal matrix (tests/web/test_access_matrix_tasks.py, and the
task-description lines of tests/web/test_access_matrix_sockets.py) cannot express: its world
has no guest of an editor link to the whole space. Such a guest works on the board as the
space's editors do, but may not change the board's settings, has no tasks of their own in
"Mes tâches", writes task descriptions, and loses all of it the moment the link is revoked.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from tests.support.spaces_world import build_world, open_link
from tests.support.tasks import TasksApi
from web.auth.current import user_of_session
from web.auth.sessions import COOKIE_NAME
from web.spaces import guest_links
from web.spaces.access import document_role
from web.tasks.tables import task_boards, tasks


async def test_a_guest_of_an_editor_link_to_the_space_works_on_tasks_as_an_editor(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    engine = app.state.engine
    link = await guest_links.create_guest_link(engine, world.owner, world.space_id, role="editor")
    client = new_client()
    assert (await open_link(client, link.token, "Invitée de l’espace")).status_code == 303
    guest = TasksApi(client, world.slug)

    board = await guest.board()
    assert board["can_edit"] and not board["can_manage"]
    task = await guest.create("Faite par l’invitée")
    await guest.ok("PATCH", f"/{task['id']}", {"version": 1, "title": "Renommée par l’invitée"})
    await guest.ok("POST", f"/{task['id']}/liste", {"text": "Relire"})
    await guest.ok("POST", "/colonnes", {"name": "Revue"})
    await guest.ok("POST", "/etiquettes", {"name": "Urgent", "colour": "#aa0000"})
    page_item = f"/api/espaces/{world.slug}/pages/{world.page.id}/taches"
    await guest.ok("POST", page_item, {"text": "Depuis la page", "item_id": "i1"})

    settings = await guest.call("PATCH", "/reglages", {"skip_non_working": False})
    assert settings.status_code == 403 and settings.json()["error"]
    async with engine.connect() as conn:
        skip = (
            await conn.execute(
                select(task_boards.c.skip_non_working).where(
                    task_boards.c.space_id == world.space_id
                )
            )
        ).scalar_one()
        doc = (
            await conn.execute(select(tasks.c.doc_name).where(tasks.c.id == task["id"]))
        ).scalar_one()
    assert skip
    assert (await guest.ok("GET", "/api/taches"))["tasks"] == []

    person = await user_of_session(app.state.sessions, _session_id(app, client))
    assert person is not None
    granted = await document_role(engine, person, doc)
    assert granted is not None and granted.writable

    await guest_links.revoke_guest_link(engine, world.owner, link.link.id)
    assert (await guest.call("GET", "")).status_code == 404
    refused = await guest.call("PATCH", f"/{task['id']}", {"version": 2, "title": "Trop tard"})
    assert refused.status_code == 404
    assert await document_role(engine, person, doc) is None


def _session_id(app: Starlette, client: httpx.AsyncClient) -> str:
    session_id = app.state.sessions.session_id(client.cookies.get(COOKIE_NAME) or "")
    assert session_id is not None
    return str(session_id)
