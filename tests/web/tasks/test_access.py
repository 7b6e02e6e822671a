"""The tasks' authorisation matrix: every actor × every tasks route → the exact outcome, as a
literal table; refused requests change nothing. Readers, commenters and reader guests of the
space read; editors and up, and guests of an editor link to the space, write; a guest of a
one-page link sees nothing of tasks; an outsider finds nothing (404); anonymous is asked to
sign in.

(When the rewritten tests/web/test_access_matrix.py lands, these rows join it.)
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select
from starlette.applications import Starlette

from tests.support.people import Who
from tests.support.spaces_world import World, build_world, open_link
from tests.support.tasks import TasksApi
from web.spaces import guest_links, services
from web.spaces.access import document_role
from web.tasks import editing, planning, structure
from web.tasks.common import TaskStore
from web.tasks.tables import (
    task_checklist_items,
    task_columns,
    task_dependencies,
    task_labels,
    tasks,
)

ACTORS = (
    "owner",
    "admin",
    "editor",
    "commenter",
    "reader",
    "outsider",
    "instance_admin",
    "space_link_reader",
    "space_link_editor",
    "page_link_editor",
    "anonymous",
)
OK, NO, HIDDEN, SIGN_IN = "ok", "403", "404", "401"

# What each actor gets, in the order of ACTORS:
#  owner admin editor commenter reader outsider inst.admin s-link-reader s-link-editor
#  page-link-editor anonymous
READ = (OK, OK, OK, OK, OK, HIDDEN, HIDDEN, OK, OK, HIDDEN, SIGN_IN)
WRITE = (OK, OK, OK, NO, NO, HIDDEN, HIDDEN, NO, OK, HIDDEN, SIGN_IN)
ADMIN = (OK, OK, NO, NO, NO, HIDDEN, HIDDEN, NO, NO, HIDDEN, SIGN_IN)
SIGNED_IN = (OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, SIGN_IN)

MATRIX: dict[str, tuple[str, ...]] = {
    "see the board": READ,
    "see archived cards": READ,
    "see a task": READ,
    "see the planning": READ,
    "export the tasks as CSV": READ,
    "create a task": WRITE,
    "update a task": WRITE,
    "delete a task": WRITE,
    "move a card": WRITE,
    "move a task on the planning": WRITE,
    "undo a planning move": WRITE,
    "add a checklist item": WRITE,
    "tick a checklist item": WRITE,
    "remove a checklist item": WRITE,
    "link two tasks": WRITE,
    "change a link": WRITE,
    "remove a link": WRITE,
    "add a column": WRITE,
    "change a column": WRITE,
    "remove a column": WRITE,
    "add a label": WRITE,
    "change a label": WRITE,
    "remove a label": WRITE,
    "turn a page's checklist item into a task": WRITE,
    "change the working-days setting": ADMIN,
    "list my tasks (JSON)": SIGNED_IN,
}

Call = tuple[str, str, Any]
Make = Callable[["Stage", str], Awaitable[Call]]


class Stage:
    """The world, and fresh things to act on, made by the owner through the services."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.store = TaskStore(world.app.state.engine, world.app.state.task_hooks)
        self.base = f"/api/espaces/{world.slug}/taches"

    @property
    def owner(self) -> Who:
        return self.world.owner

    async def task(self, title: str = "Cible", **fields: Any) -> dict[str, Any]:
        made = await editing.create_task(
            self.store, self.owner, self.world.space_id, {"title": title, **fields}
        )
        task: dict[str, Any] = made.body["task"]
        return task

    async def columns(self) -> list[int]:
        async with self.world.app.state.engine.connect() as conn:
            rows = await conn.execute(
                select(task_columns.c.id)
                .where(task_columns.c.space_id == self.world.space_id)
                .order_by(task_columns.c.position)
            )
            return list(rows.scalars())


def simple(method: str, path: str, body: Any = None) -> Make:
    """A request on the space's tasks (`path` under them), or on a path of its own."""

    async def make(stage: Stage, actor: str) -> Call:
        return method, path if path.startswith("/api/") else stage.base + path, body

    return make


async def _task_path(stage: Stage, actor: str, suffix: str = "") -> str:
    return f"{stage.base}/{(await stage.task())['id']}{suffix}"


def on_task(method: str, suffix: str, body: Any = None) -> Make:
    async def make(stage: Stage, actor: str) -> Call:
        return method, await _task_path(stage, actor, suffix), body

    return make


async def _move(stage: Stage, actor: str) -> Call:
    column = (await stage.columns())[1]
    return (
        "POST",
        await _task_path(stage, actor, "/deplacer"),
        {"column_id": column, "order": "a0V"},
    )


async def _reschedule(stage: Stage, actor: str) -> Call:
    body = {"start_date": "2026-06-01", "due_date": "2026-06-02", "version": 1}
    return "POST", await _task_path(stage, actor, "/planifier"), body


async def _undo(stage: Stage, actor: str) -> Call:
    task = await stage.task(start_date=date(2026, 6, 1), due_date=date(2026, 6, 2))
    moved = await planning.reschedule_task(
        stage.store,
        stage.owner,
        stage.world.space_id,
        task["id"],
        1,
        date(2026, 6, 8),
        date(2026, 6, 9),
    )
    changes = [
        {"id": c["id"], "version": c["version"], **c["before"]} for c in moved.body["changes"]
    ]
    return "POST", stage.base + "/planning/annuler", {"changes": changes}


async def _item(stage: Stage, method: str, body: Any) -> Call:
    task = await stage.task()
    made = await editing.add_checklist_item(
        stage.store, stage.owner, stage.world.space_id, task["id"], "x"
    )
    return method, f"{stage.base}/{task['id']}/liste/{made.body['item_id']}", body


async def _tick(stage: Stage, actor: str) -> Call:
    return await _item(stage, "PATCH", {"done": True})


async def _untick(stage: Stage, actor: str) -> Call:
    return await _item(stage, "DELETE", None)


async def _link(stage: Stage, actor: str) -> Call:
    a, b = await stage.task("A"), await stage.task("B")
    return "POST", stage.base + "/dependances", {"predecessor_id": a["id"], "successor_id": b["id"]}


async def _made_link(stage: Stage) -> int:
    a, b = await stage.task("A"), await stage.task("B")
    made = await planning.add_dependency(
        stage.store, stage.owner, stage.world.space_id, a["id"], b["id"], "FS", 0
    )
    return int(made.body["dependency"]["id"])


async def _change_link(stage: Stage, actor: str) -> Call:
    return "PATCH", f"{stage.base}/dependances/{await _made_link(stage)}", {"lag_days": 1}


async def _remove_link(stage: Stage, actor: str) -> Call:
    return "DELETE", f"{stage.base}/dependances/{await _made_link(stage)}", None


async def _made_column(stage: Stage) -> int:
    made = await structure.add_column(stage.store, stage.owner, stage.world.space_id, {"name": "C"})
    return int(made.body["column"]["id"])


async def _change_column(stage: Stage, actor: str) -> Call:
    return "PATCH", f"{stage.base}/colonnes/{await _made_column(stage)}", {"wip_limit": 3}


async def _remove_column(stage: Stage, actor: str) -> Call:
    return "DELETE", f"{stage.base}/colonnes/{await _made_column(stage)}", None


async def _made_label(stage: Stage, actor: str) -> int:
    made = await structure.add_label(
        stage.store, stage.owner, stage.world.space_id, f"L {uuid.uuid4().hex[:8]}", "#123456"
    )
    return int(made.body["label"]["id"])


async def _add_label(stage: Stage, actor: str) -> Call:
    return "POST", f"{stage.base}/etiquettes", {"name": f"Par {actor}", "colour": "#123456"}


async def _change_label(stage: Stage, actor: str) -> Call:
    return (
        "PATCH",
        f"{stage.base}/etiquettes/{await _made_label(stage, actor)}",
        {"colour": "#654321"},
    )


async def _remove_label(stage: Stage, actor: str) -> Call:
    return "DELETE", f"{stage.base}/etiquettes/{await _made_label(stage, actor)}", None


async def _from_item(stage: Stage, actor: str) -> Call:
    path = f"/api/espaces/{stage.world.slug}/pages/{stage.world.page.id}/taches"
    return "POST", path, {"text": f"Élément de {actor}", "item_id": f"item-{actor}"}


REQUESTS: dict[str, Make] = {
    "see the board": simple("GET", ""),
    "see archived cards": simple("GET", "/archives"),
    "see a task": on_task("GET", ""),
    "see the planning": simple("GET", "/planning"),
    "export the tasks as CSV": simple("GET", "/export.csv"),
    "create a task": simple("POST", "", {"title": "Nouvelle"}),
    "update a task": on_task("PATCH", "", {"version": 1, "title": "Renommée"}),
    "delete a task": on_task("DELETE", ""),
    "move a card": _move,
    "move a task on the planning": _reschedule,
    "undo a planning move": _undo,
    "add a checklist item": on_task("POST", "/liste", {"text": "Faire"}),
    "tick a checklist item": _tick,
    "remove a checklist item": _untick,
    "link two tasks": _link,
    "change a link": _change_link,
    "remove a link": _remove_link,
    "add a column": simple("POST", "/colonnes", {"name": "Revue"}),
    "change a column": _change_column,
    "remove a column": _remove_column,
    "add a label": _add_label,
    "change a label": _change_label,
    "remove a label": _remove_label,
    "turn a page's checklist item into a task": _from_item,
    "change the working-days setting": simple("PATCH", "/reglages", {"skip_non_working": False}),
    "list my tasks (JSON)": simple("GET", "/api/taches"),
}


def outcome(response: httpx.Response) -> str:
    if response.status_code in (200, 201):
        return OK
    return str(response.status_code)


async def _snapshot(app: Starlette) -> tuple[Any, ...]:
    tables = (tasks, task_columns, task_labels, task_checklist_items, task_dependencies)
    found = []
    async with app.state.engine.connect() as conn:
        for table in tables:
            found.append(tuple(tuple(r) for r in (await conn.execute(select(table))).all()))
    return tuple(found)


async def _with_space_editor_link(
    world: World, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    engine = world.app.state.engine
    link = await guest_links.create_guest_link(engine, world.owner, world.space_id, role="editor")
    client = new_client()
    assert (await open_link(client, link.token, "space_link_editor")).status_code == 303
    world.clients["space_link_editor"] = client


async def test_every_actor_gets_exactly_what_the_matrix_says_and_refusals_change_nothing(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    await _with_space_editor_link(world, new_client)
    stage = Stage(world)
    seen: dict[str, tuple[str, ...]] = {}
    for name, make in REQUESTS.items():
        row = []
        for actor in ACTORS:
            method, path, body = await make(stage, actor)
            api = TasksApi(world.clients[actor], world.slug)
            before = await _snapshot(app)
            response = await api.call(method, path, body)
            assert response.status_code < 500, f"{name} / {actor}: {response.text}"
            row.append(outcome(response))
            if response.status_code >= 400:
                assert response.json()["error"]
                assert await _snapshot(app) == before, f"{name} / {actor} changed something"
        seen[name] = tuple(row)
    assert seen == MATRIX


async def test_a_task_description_opens_for_writing_to_editors_and_reading_to_readers(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    stage = Stage(world)
    task = await stage.task()
    async with app.state.engine.connect() as conn:
        doc = (
            await conn.execute(select(tasks.c.doc_name).where(tasks.c.id == task["id"]))
        ).scalar_one()
    grants = {}
    for actor, person in world.people.items():
        found = await document_role(app.state.engine, person, doc)
        grants[actor] = None if found is None else ("write" if found.writable else "read")
    assert grants == {
        "owner": "write",
        "admin": "write",
        "editor": "write",
        "commenter": "read",
        "reader": "read",
        "outsider": None,
        "instance_admin": None,
        "space_link_reader": "read",
        "page_link_editor": None,
    }


async def test_an_archived_spaces_board_is_read_only(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    task = await Stage(world).task()
    await services.set_archived(app.state.engine, world.owner, world.space_id, True)
    editor = TasksApi(world.clients["editor"], world.slug)
    board = await editor.board()
    assert board["space"]["archived"] and not board["can_edit"]
    refused = await editor.call("PATCH", f"/{task['id']}", {"version": 1, "title": "Non"})
    assert refused.status_code == 409 and "archivé" in refused.json()["error"]
