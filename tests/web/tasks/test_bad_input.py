"""Bad input to the tasks API (issue §5): each a clear 4xx with a message, nothing written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from tests.support.people import add_person
from tests.support.spaces_world import World
from tests.support.tasks import TasksApi
from web.spaces import services
from web.tasks.tables import task_dependencies, tasks


async def _state(app: Starlette) -> tuple[Any, ...]:
    """Every task row and link, to check that a refusal changed nothing."""
    async with app.state.engine.connect() as conn:
        rows = (await conn.execute(select(tasks).order_by(tasks.c.id))).all()
        links = (await conn.execute(select(func.count()).select_from(task_dependencies))).scalar()
    return tuple(tuple(r) for r in rows), links


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"title": "x" * 10_000}, 422, "300 caractères au plus"),
        ({"title": "   "}, 422, "obligatoire"),
        ({"title": 12}, 422, "texte attendu"),
        ({}, 422, "title"),
        ({"title": "A", "column_id": 999_999}, 422, "Colonne inconnue"),
        ({"title": "A", "start_date": "2026-06-10", "due_date": "2026-06-01"}, 422, "précéder"),
        ({"title": "A", "due_date": "2026-02-30"}, 422, "n'existe pas"),
        ({"title": "A", "due_date": "10/06/2026"}, 422, "AAAA-MM-JJ"),
        ({"title": "A", "order": "a00"}, 422, "clé d'ordre invalide"),
        ({"title": "A", "progress": 120}, 422, "entre 0 et 100"),
        ({"title": "A", "estimate_hours": 1e9}, 422, "heures"),
        ({"title": "A", "assignees": [999_999]}, 422, "membres"),
        ({"title": "A", "colour": "#fff"}, 422, "Champ inconnu"),
    ],
)
async def test_a_task_that_cannot_be_made_is_refused_with_a_reason(
    world: World, editor: TasksApi, body: dict[str, Any], status: int, says: str
) -> None:
    await editor.create("Déjà là")
    before = await _state(world.app)
    response = await editor.call("POST", "", body)
    assert response.status_code == status, response.text
    assert says in response.json()["error"]
    assert await _state(world.app) == before


@pytest.mark.parametrize(
    "order", ["a00", "", "b", "a0 ", "zz\u00e9", "A" + "0" * 26, "a" + "1" * 300, 5, None]
)
async def test_a_move_to_an_order_key_that_is_not_valid_is_refused(
    world: World, editor: TasksApi, order: object
) -> None:
    task = await editor.create("Carte")
    before = await _state(world.app)
    response = await editor.call(
        "POST", f"/{task['id']}/deplacer", {"column_id": task["column_id"], "order": order}
    )
    assert response.status_code == 422 and response.json()["error"]
    assert await _state(world.app) == before


async def test_a_move_to_a_column_of_another_space_is_refused(
    world: World, editor: TasksApi
) -> None:
    other = await services.create_space(world.app.state.engine, world.owner, name="Autre espace")
    theirs = TasksApi(world.clients["owner"], other.slug)
    foreign_column = (await theirs.board())["columns"][0]["id"]
    task = await editor.create("Carte")
    before = await _state(world.app)
    response = await editor.call(
        "POST", f"/{task['id']}/deplacer", {"column_id": foreign_column, "order": "a5"}
    )
    assert response.status_code == 422 and "Colonne inconnue" in response.json()["error"]
    assert await _state(world.app) == before


async def test_a_dependency_on_a_task_of_another_space_is_refused(
    world: World, editor: TasksApi
) -> None:
    other = await services.create_space(world.app.state.engine, world.owner, name="Autre espace")
    editor_there = world.people["editor"]
    await services.add_member(
        world.app.state.engine, world.owner, other.id, editor_there.id, "editor"
    )
    foreign = await TasksApi(world.clients["editor"], other.slug).create("Ailleurs")
    mine = await editor.create("Ici")
    before = await _state(world.app)
    response = await editor.call(
        "POST", "/dependances", {"predecessor_id": foreign["id"], "successor_id": mine["id"]}
    )
    assert response.status_code == 422 and "de cet espace" in response.json()["error"]
    assert await _state(world.app) == before


async def test_a_task_of_another_space_is_not_found_through_this_one(
    world: World, editor: TasksApi
) -> None:
    other = await services.create_space(world.app.state.engine, world.owner, name="Autre espace")
    foreign = await TasksApi(world.clients["owner"], other.slug).create("Ailleurs")
    for method, path, body in [
        ("GET", f"/{foreign['id']}", None),
        ("PATCH", f"/{foreign['id']}", {"version": 1, "title": "Pris"}),
        ("DELETE", f"/{foreign['id']}", None),
        ("POST", f"/{foreign['id']}/liste", {"text": "x"}),
    ]:
        response = await editor.call(method, path, body)
        assert response.status_code == 404, (method, path, response.text)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{not json", 422),
        (b"[1, 2]", 422),
        (b"null", 422),
        (b'{"title": "' + b"x" * 300_000 + b'"}', 413),
    ],
)
async def test_a_body_that_is_not_a_json_object_of_fair_size_is_refused(
    world: World, editor: TasksApi, raw: bytes, status: int
) -> None:
    await editor.create("Déjà là")  # the client now holds its CSRF token
    before = await _state(world.app)
    response = await editor.client.post(
        editor.base,
        content=raw,
        headers={"X-CSRF-Token": editor.csrf, "content-type": "application/json"},
    )
    assert response.status_code == status and response.json()["error"]
    assert await _state(world.app) == before


async def test_a_cycle_is_refused_naming_its_tasks_and_nothing_is_linked(
    world: World, editor: TasksApi
) -> None:
    a, b, c = [await editor.create(t) for t in ("Étude", "Marché", "Travaux")]
    await editor.ok("POST", "/dependances", {"predecessor_id": a["id"], "successor_id": b["id"]})
    await editor.ok("POST", "/dependances", {"predecessor_id": b["id"], "successor_id": c["id"]})
    before = await _state(world.app)
    response = await editor.call(
        "POST", "/dependances", {"predecessor_id": c["id"], "successor_id": a["id"], "kind": "SS"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == (
        "Cette dépendance créerait un cycle : Travaux → Étude → Marché → Travaux."
    )
    assert response.json()["cycle"] == [c["id"], a["id"], b["id"], c["id"]]
    assert await _state(world.app) == before
    itself = await editor.call(
        "POST", "/dependances", {"predecessor_id": a["id"], "successor_id": a["id"]}
    )
    assert itself.status_code == 422


async def test_unknown_fields_and_wrong_types_in_an_update_write_nothing(
    world: World, editor: TasksApi
) -> None:
    task = await editor.create("Carte")
    before = await _state(world.app)
    for body in (
        {"title": "Nouveau"},  # no version
        {"version": 1, "title": "Nouveau", "order_key": "a1"},
        {"version": "1", "title": "Nouveau"},
        {"version": 1, "title": "Nouveau", "milestone": "oui"},
        {"version": 1, "title": "Nouveau", "labels": "1,2"},
    ):
        response = await editor.call("PATCH", f"/{task['id']}", body)
        assert response.status_code == 422, body
    assert await _state(world.app) == before


async def test_a_person_who_is_not_a_member_cannot_be_assigned(
    world: World, editor: TasksApi
) -> None:
    outsider = await add_person(world.app, "stranger")
    response = await editor.call("POST", "", {"title": "A", "assignees": [outsider.id]})
    assert response.status_code == 422
