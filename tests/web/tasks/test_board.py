"""The board over its JSON API: default columns, cards with what they show, moves (one
place per card even when two land on the same key), the version check, archives, filters,
checklists, columns and labels, a page's checklist item turned into a task."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from tests.support.spaces_world import World
from tests.support.tasks import TasksApi
from web.tasks.fractional import generate_key_between
from web.tasks.tables import tasks


def titles_in(board: dict[str, Any], column_id: int) -> list[str]:
    return [t["title"] for t in board["tasks"] if t["column_id"] == column_id]


async def test_a_new_board_has_three_columns_and_the_last_one_means_done(
    editor: TasksApi, reader: TasksApi
) -> None:
    board = await reader.board()
    assert [(c["name"], c["done"]) for c in board["columns"]] == [
        ("À faire", False),
        ("En cours", False),
        ("Fait", True),
    ]
    assert board["tasks"] == [] and board["role"] == "reader" and not board["can_edit"]
    assert (await editor.board())["can_edit"]


async def test_a_card_shows_its_assignees_labels_due_date_and_checklist_progress(
    world: World, editor: TasksApi, reader: TasksApi
) -> None:
    label = (await editor.ok("POST", "/etiquettes", {"name": "Urgent", "colour": "#B3261E"}))[
        "label"
    ]
    commenter = world.people["commenter"].id
    task = await editor.create(
        "Préparer le comité", assignees=[commenter], labels=[label["id"]], due_date="2026-06-30"
    )
    await editor.ok("POST", f"/{task['id']}/liste", {"text": "Ordre du jour"})
    item = (await editor.ok("POST", f"/{task['id']}/liste", {"text": "Salle"}))["item_id"]
    await editor.ok("PATCH", f"/{task['id']}/liste/{item}", {"done": True})
    board = await reader.board()
    (card,) = board["tasks"]
    assert card["assignees"] == [commenter] and card["labels"] == [label["id"]]
    assert card["due_date"] == "2026-06-30" and card["checklist"] == {"done": 1, "total": 2}
    assert card["comments"] == 0
    assert board["labels"] == [{"id": label["id"], "name": "Urgent", "colour": "#b3261e"}]
    people = {p["id"]: p for p in board["people"]}
    assert people[commenter]["initials"] == "C" and people[commenter]["colour"].startswith("#")


async def test_new_cards_go_to_the_bottom_of_the_first_column(editor: TasksApi) -> None:
    for title in ("Un", "Deux", "Trois"):
        await editor.create(title)
    board = await editor.board()
    assert titles_in(board, board["columns"][0]["id"]) == ["Un", "Deux", "Trois"]


async def test_a_move_puts_the_card_between_its_new_neighbours(editor: TasksApi) -> None:
    cards = [await editor.create(t) for t in ("Un", "Deux", "Trois")]
    doing = (await editor.board())["columns"][1]["id"]
    moved = await editor.ok(
        "POST", f"/{cards[2]['id']}/deplacer", {"column_id": doing, "order": "a0"}
    )
    assert moved["order"] == "a0" and not moved["adjusted"] and moved["version"] == 2
    key = generate_key_between(cards[0]["order"], cards[1]["order"])
    await editor.ok(
        "POST", f"/{cards[2]['id']}/deplacer", {"column_id": cards[0]["column_id"], "order": key}
    )
    board = await editor.board()
    assert titles_in(board, cards[0]["column_id"]) == ["Un", "Trois", "Deux"]


async def test_two_cards_dropped_on_the_same_key_both_land_the_later_one_second(
    editor: TasksApi,
) -> None:
    a, b, c, d = [await editor.create(t) for t in ("A", "B", "C", "D")]
    column = a["column_id"]
    between = generate_key_between(a["order"], b["order"])  # what both browsers compute
    first = await editor.ok("POST", f"/{c['id']}/deplacer", {"column_id": column, "order": between})
    second = await editor.ok(
        "POST", f"/{d['id']}/deplacer", {"column_id": column, "order": between}
    )
    assert first["order"] == between and not first["adjusted"]
    assert second["adjusted"] and between < second["order"] < b["order"]
    assert titles_in(await editor.board(), column) == ["A", "C", "D", "B"]


async def test_a_column_over_its_wip_limit_is_reported_on_the_move(editor: TasksApi) -> None:
    board = await editor.board()
    doing = board["columns"][1]
    await editor.ok("PATCH", f"/colonnes/{doing['id']}", {"wip_limit": 1})
    one, two = await editor.create("Un"), await editor.create("Deux")
    first = await editor.ok(
        "POST", f"/{one['id']}/deplacer", {"column_id": doing["id"], "order": "a0"}
    )
    assert first["wip"] == {"limit": 1, "count": 1, "exceeded": False}
    second = await editor.ok(
        "POST", f"/{two['id']}/deplacer", {"column_id": doing["id"], "order": "a1"}
    )
    assert second["wip"] == {"limit": 1, "count": 2, "exceeded": True}


async def test_a_stale_update_of_a_field_is_refused_with_the_task_as_it_is_now(
    world: World, editor: TasksApi
) -> None:
    task = await editor.create("Rapport")
    await editor.ok("PATCH", f"/{task['id']}", {"version": 1, "title": "Rapport annuel"})
    stale = await editor.call("PATCH", f"/{task['id']}", {"version": 1, "title": "Rapport 2026"})
    assert stale.status_code == 409
    answer = stale.json()
    assert answer["conflict"] == {"fields": ["title"]}
    assert answer["task"]["title"] == "Rapport annuel" and answer["task"]["version"] == 2
    assert "rechargez" in answer["error"]
    # Another field changed on the same old version goes through: nothing of it is lost.
    fine = await editor.ok("PATCH", f"/{task['id']}", {"version": 1, "progress": 40})
    assert fine["task"]["title"] == "Rapport annuel" and fine["task"]["progress"] == 40


async def test_an_old_move_replayed_after_the_card_moved_again_is_refused(editor: TasksApi) -> None:
    task = await editor.create("Carte")
    columns = (await editor.board())["columns"]
    await editor.ok(
        "POST", f"/{task['id']}/deplacer", {"column_id": columns[2]["id"], "order": "a0"}
    )
    # Offline since version 1, someone drops it in column 2: their queue replays with it.
    replay = await editor.call(
        "POST",
        f"/{task['id']}/deplacer",
        {"column_id": columns[1]["id"], "order": "a0", "version": 1},
    )
    assert replay.status_code == 409 and replay.json()["conflict"] == {"fields": ["position"]}
    (card,) = (await editor.board())["tasks"]
    assert card["column_id"] == columns[2]["id"]


async def test_archived_cards_leave_the_board_and_are_listed_page_by_page(
    editor: TasksApi,
) -> None:
    made = [await editor.create(f"Tâche {n:02d}") for n in range(53)]
    for task in made[:52]:
        await editor.ok("PATCH", f"/{task['id']}", {"version": 1, "archived": True})
    board = await editor.board()
    assert [t["title"] for t in board["tasks"]] == ["Tâche 52"] and board["archived_count"] == 52
    first = await editor.ok("GET", "/archives")
    assert len(first["tasks"]) == 50 and first["next_page"] == 2
    assert first["tasks"][0]["archived_at"] is not None
    second = await editor.ok("GET", "/archives?page=2")
    assert len(second["tasks"]) == 2 and second["next_page"] is None
    assert len({t["id"] for t in first["tasks"] + second["tasks"]}) == 52
    found = await editor.ok("GET", "/archives?q=t%C3%A2che%2007")
    assert [t["title"] for t in found["tasks"]] == ["Tâche 07"]


async def test_the_board_filters_by_assignee_label_due_date_and_text(
    world: World, editor: TasksApi
) -> None:
    label = (await editor.ok("POST", "/etiquettes", {"name": "Budget", "colour": "#0b6e4f"}))[
        "label"
    ]
    me = world.people["editor"].id
    await editor.create("Voter le budget", labels=[label["id"]], assignees=[me])
    await editor.create("Archiver 2019", due_date="2020-01-10")
    await editor.create("Relire la note")

    async def shown(query: str) -> list[str]:
        return sorted(t["title"] for t in (await editor.board(query))["tasks"])

    assert await shown(f"?assigne={me}") == ["Voter le budget"]
    assert await shown(f"?etiquette={label['id']}") == ["Voter le budget"]
    assert await shown("?echeance=retard") == ["Archiver 2019"]
    assert await shown("?echeance=sans") == ["Relire la note", "Voter le budget"]
    assert await shown("?q=NOTE") == ["Relire la note"]
    assert (await editor.call("GET", "?echeance=demain")).status_code == 422


async def test_columns_are_renamed_reordered_and_removed_with_their_cards_moved(
    editor: TasksApi,
) -> None:
    board = await editor.board()
    todo, doing, done = (c["id"] for c in board["columns"])
    await editor.ok("PATCH", f"/colonnes/{doing}", {"name": "En revue", "position": "Zz"})
    task = await editor.create("Carte", column_id=doing)
    refused = await editor.call("DELETE", f"/colonnes/{doing}")
    assert refused.status_code == 409
    await editor.ok("DELETE", f"/colonnes/{doing}?vers={done}")
    board = await editor.board()
    assert [c["name"] for c in board["columns"]] == ["À faire", "Fait"]
    assert board["tasks"][0]["id"] == task["id"] and board["tasks"][0]["column_id"] == done
    await editor.ok("DELETE", f"/colonnes/{todo}")
    last = await editor.call("DELETE", f"/colonnes/{done}?vers={done}")
    assert last.status_code == 409  # a board keeps one column


async def test_a_pages_checklist_item_becomes_a_task_once(world: World, editor: TasksApi) -> None:
    path = f"/api/espaces/{world.slug}/pages/{world.page.id}/taches"
    made = await editor.call("POST", path, {"text": "Appeler la préfecture", "item_id": "it-7"})
    assert made.status_code == 201
    answer = made.json()
    assert answer["url"] == f"/espaces/{world.slug}/taches/{answer['task']['id']}"
    again = await editor.call("POST", path, {"text": "Appeler la préfecture", "item_id": "it-7"})
    assert again.status_code == 200 and again.json()["task"]["id"] == answer["task"]["id"]
    detail = await editor.ok("GET", f"/{answer['task']['id']}")
    assert detail["source"] == {"page_id": world.page.id, "title": world.page.title, "item": "it-7"}
    assert len((await editor.board())["tasks"]) == 1


async def test_deleting_a_task_moves_its_subtasks_up_and_drops_its_links(
    world: World, editor: TasksApi
) -> None:
    parent = await editor.create("Projet")
    child = await editor.create("Étape", parent_id=parent["id"])
    other = await editor.create("Suite")
    await editor.ok(
        "POST", "/dependances", {"predecessor_id": parent["id"], "successor_id": other["id"]}
    )
    await editor.ok("DELETE", f"/{parent['id']}")
    board = await editor.board()
    assert {t["title"]: t["parent_id"] for t in board["tasks"]} == {"Étape": None, "Suite": None}
    assert board["dependencies"] == []
    assert (await editor.call("GET", f"/{parent['id']}")).status_code == 404
    async with world.app.state.engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(tasks))).scalar_one()
    assert count == 2 and child["id"] in {t["id"] for t in board["tasks"]}


async def test_a_task_cannot_become_its_own_subtask(editor: TasksApi) -> None:
    parent = await editor.create("Projet")
    child = await editor.create("Étape", parent_id=parent["id"])
    loop = await editor.call("PATCH", f"/{parent['id']}", {"version": 1, "parent_id": child["id"]})
    assert loop.status_code == 422
