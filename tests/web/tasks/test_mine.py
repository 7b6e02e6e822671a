"""'Mes tâches': everything assigned to me across my spaces, by due date, overdue marked,
finished ones apart; nothing of others, nothing of a space I left."""

from __future__ import annotations

import re

from tests.support.spaces_world import World
from tests.support.tasks import TasksApi
from web.spaces import services


async def test_my_tasks_across_spaces_by_due_date_with_overdue_marked(
    world: World, editor: TasksApi
) -> None:
    engine = world.app.state.engine
    me = world.people["editor"].id
    other = await services.create_space(engine, world.owner, name="Deuxième espace")
    await services.add_member(engine, world.owner, other.id, me, "editor")
    there = TasksApi(world.clients["editor"], other.slug)
    await editor.create("Sans échéance", assignees=[me])
    await there.create("Plus tard", assignees=[me], due_date="2099-03-01")
    await editor.create("En retard depuis 2020", assignees=[me], due_date="2020-01-15")
    await editor.create("Pas à moi", assignees=[world.people["admin"].id], due_date="2020-01-01")
    finished = await there.create("Déjà faite", assignees=[me], due_date="2020-01-01")
    await there.ok("PATCH", f"/{finished['id']}", {"version": 1, "progress": 100})
    archived = await editor.create("Archivée", assignees=[me])
    await editor.ok("PATCH", f"/{archived['id']}", {"version": 1, "archived": True})

    listed = (await editor.ok("GET", "/api/taches"))["tasks"]
    assert [(t["title"], t["overdue"], t["done"]) for t in listed] == [
        ("En retard depuis 2020", True, False),
        ("Plus tard", False, False),
        ("Sans échéance", False, False),
        ("Déjà faite", False, True),
    ]
    assert listed[1]["space"] == {"slug": other.slug, "name": "Deuxième espace"}

    page = await world.clients["editor"].get("/taches")
    assert page.status_code == 200
    rows = re.findall(
        r"<tr( class=\"en-retard\")?>\s*<td><a href=\"([^\"]+)\">([^<]+)</a>", page.text
    )
    assert [(bool(late), title) for late, _, title in rows] == [
        (True, "En retard depuis 2020"),
        (False, "Plus tard"),
        (False, "Sans échéance"),
        (False, "Déjà faite"),
    ]
    assert "En retard" in page.text and "15/01/2020" in page.text

    await services.remove_member(engine, world.owner, other.id, me)
    left = [t["title"] for t in (await editor.ok("GET", "/api/taches"))["tasks"]]
    assert left == ["En retard depuis 2020", "Sans échéance"]


async def test_my_tasks_asks_a_visitor_to_sign_in(world: World) -> None:
    page = await world.clients["anonymous"].get("/taches")
    assert page.status_code == 303 and page.headers["location"].startswith("/connexion")
    api = await world.clients["anonymous"].get("/api/taches")
    assert api.status_code == 401 and api.json()["error"]


async def test_a_guest_of_a_page_link_has_no_tasks(world: World) -> None:
    response = await world.clients["page_link_editor"].get("/api/taches")
    assert response.status_code == 200 and response.json()["tasks"] == []
