"""The plan over the API: a link pushes its successor past a public holiday, moving a task on
the Gantt moves what depends on it and answers the changes, undo puts them back (or is
refused when the plan changed), the working-days setting, the critical path, the CSV."""

from __future__ import annotations

import csv
import io

from tests.support.spaces_world import World
from tests.support.tasks import TasksApi


async def test_a_new_link_pushes_its_successor_past_the_first_of_may(editor: TasksApi) -> None:
    study = await editor.create("Étude", start_date="2026-04-27", due_date="2026-04-30")
    works = await editor.create("Travaux", start_date="2026-04-20", due_date="2026-04-21")
    answer = await editor.ok(
        "POST", "/dependances", {"predecessor_id": study["id"], "successor_id": works["id"]}
    )
    assert answer["dependency"]["kind"] == "FS" and answer["dependency"]["lag_days"] == 0
    assert answer["changes"] == [
        {
            "id": works["id"],
            "title": "Travaux",
            "version": 2,
            "before": {"start_date": "2026-04-20", "due_date": "2026-04-21"},
            "after": {"start_date": "2026-05-04", "due_date": "2026-05-05"},
        }
    ]


async def test_moving_a_task_on_the_gantt_moves_its_dependants_and_undo_restores_them(
    editor: TasksApi,
) -> None:
    a = await editor.create("A", start_date="2026-06-01", due_date="2026-06-03")
    b = await editor.create("B", start_date="2026-06-04", due_date="2026-06-05")
    c = await editor.create("C", start_date="2026-06-15", due_date="2026-06-15")
    unrelated = await editor.create("D", start_date="2026-06-01", due_date="2026-06-01")
    await editor.ok("POST", "/dependances", {"predecessor_id": a["id"], "successor_id": b["id"]})
    await editor.ok(
        "POST",
        "/dependances",
        {"predecessor_id": b["id"], "successor_id": c["id"], "kind": "SS", "lag_days": 2},
    )
    before = {t["id"]: (t["start_date"], t["due_date"]) for t in (await editor.board())["tasks"]}
    moved = await editor.ok(
        "POST",
        f"/{a['id']}/planifier",
        {"start_date": "2026-06-08", "due_date": "2026-06-10", "version": 1},
    )
    after = {c["id"]: (c["after"]["start_date"], c["after"]["due_date"]) for c in moved["changes"]}
    assert after == {
        a["id"]: ("2026-06-08", "2026-06-10"),
        b["id"]: ("2026-06-11", "2026-06-12"),
        c["id"]: ("2026-06-22", "2026-06-22"),
    }
    assert moved["changes"][0]["id"] == a["id"]
    undo = [{"id": c["id"], "version": c["version"], **c["before"]} for c in moved["changes"]]
    await editor.ok("POST", "/planning/annuler", {"changes": undo})
    board = await editor.board()
    assert {t["id"]: (t["start_date"], t["due_date"]) for t in board["tasks"]} == before
    assert unrelated["id"] in before


async def test_an_undo_is_refused_once_one_of_its_tasks_changed_again(editor: TasksApi) -> None:
    a = await editor.create("A", start_date="2026-06-01", due_date="2026-06-03")
    b = await editor.create("B", start_date="2026-06-04", due_date="2026-06-05")
    await editor.ok("POST", "/dependances", {"predecessor_id": a["id"], "successor_id": b["id"]})
    moved = await editor.ok(
        "POST",
        f"/{a['id']}/planifier",
        {"start_date": "2026-06-08", "due_date": "2026-06-10", "version": 1},
    )
    b_after = next(c for c in moved["changes"] if c["id"] == b["id"])
    await editor.ok("PATCH", f"/{b['id']}", {"version": b_after["version"], "title": "B bis"})
    undo = [{"id": c["id"], "version": c["version"], **c["before"]} for c in moved["changes"]]
    refused = await editor.call("POST", "/planning/annuler", {"changes": undo})
    assert refused.status_code == 409 and refused.json()["conflict"] == {"tasks": [b["id"]]}
    board = {t["id"]: t for t in (await editor.board())["tasks"]}
    assert board[a["id"]]["start_date"] == "2026-06-08"


async def test_an_undo_that_would_break_a_link_is_refused(editor: TasksApi) -> None:
    a = await editor.create("A", start_date="2026-06-01", due_date="2026-06-03")
    b = await editor.create("B", start_date="2026-06-04", due_date="2026-06-05")
    await editor.ok("POST", "/dependances", {"predecessor_id": a["id"], "successor_id": b["id"]})
    forged = [{"id": b["id"], "version": 1, "start_date": "2026-05-01", "due_date": "2026-05-02"}]
    refused = await editor.call("POST", "/planning/annuler", {"changes": forged})
    assert refused.status_code == 409
    board = {t["id"]: t for t in (await editor.board())["tasks"]}
    assert board[b["id"]]["start_date"] == "2026-06-04"


async def test_new_dates_set_on_a_task_move_what_depends_on_it(editor: TasksApi) -> None:
    a = await editor.create("A", start_date="2026-06-01", due_date="2026-06-03")
    b = await editor.create("B", due_date="2026-06-04")  # one date: it keeps one
    await editor.ok("POST", "/dependances", {"predecessor_id": a["id"], "successor_id": b["id"]})
    answer = await editor.ok("PATCH", f"/{a['id']}", {"version": 1, "due_date": "2026-06-05"})
    assert answer["task"]["due_date"] == "2026-06-05"
    assert [(c["id"], c["after"]) for c in answer["changes"]] == [
        (b["id"], {"start_date": None, "due_date": "2026-06-08"})
    ]


async def test_a_space_that_counts_every_day_schedules_over_weekends(
    world: World, editor: TasksApi
) -> None:
    owner = TasksApi(world.clients["owner"], world.slug)
    refused = await editor.call("PATCH", "/reglages", {"skip_non_working": False})
    assert refused.status_code == 403  # an admin's setting
    await owner.ok("PATCH", "/reglages", {"skip_non_working": False})
    a = await editor.create("A", start_date="2026-05-01", due_date="2026-05-01")
    b = await editor.create("B", start_date="2026-04-01", due_date="2026-04-01")
    answer = await editor.ok(
        "POST", "/dependances", {"predecessor_id": a["id"], "successor_id": b["id"]}
    )
    assert answer["changes"][0]["after"] == {"start_date": "2026-05-02", "due_date": "2026-05-02"}
    view = await editor.ok("GET", "/planning")
    assert view["calendar"] == {"skip_non_working": False, "days_off": [], "holidays": {}}


async def test_the_planning_view_marks_the_critical_path_and_the_days_off(
    editor: TasksApi, reader: TasksApi
) -> None:
    a = await editor.create("A", start_date="2026-05-04", due_date="2026-05-06")
    b = await editor.create("B", start_date="2026-05-07", due_date="2026-05-12")
    side = await editor.create("À côté", start_date="2026-05-04", due_date="2026-05-04")
    await editor.ok("POST", "/dependances", {"predecessor_id": a["id"], "successor_id": b["id"]})
    view = await reader.ok("GET", "/planning")
    assert view["critical"] == [a["id"], b["id"]] and view["finish"] == "2026-05-12"
    assert view["slack"][str(side["id"])] > 0
    assert "2026-05-08" in view["calendar"]["days_off"]
    assert view["calendar"]["holidays"]["2026-05-14"] == "Ascension"
    assert len(view["dependencies"]) == 1 and len(view["tasks"]) == 3


async def test_the_csv_export_opens_in_a_french_spreadsheet_and_runs_no_formula(
    world: World, editor: TasksApi, reader: TasksApi
) -> None:
    a = await editor.create(
        "Étude d'impact", start_date="2026-05-04", due_date="2026-05-06", estimate_hours=7.5
    )
    b = await editor.create('=HYPERLINK("http://evil")', assignees=[world.people["editor"].id])
    await editor.ok(
        "POST", "/dependances", {"predecessor_id": a["id"], "successor_id": b["id"], "lag_days": 2}
    )
    response = await reader.call("GET", "/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Identifiant", "Titre", "Colonne"] and rows[0][-1] == "Archivée"
    assert rows[1][1:3] == ["Étude d'impact", "À faire"] and rows[1][7] == "7,5"
    assert rows[2][1] == '\'=HYPERLINK("http://evil")' and rows[2][3] == "Editor"
    assert rows[2][11] == f"{a['id']} FS +2 j"
