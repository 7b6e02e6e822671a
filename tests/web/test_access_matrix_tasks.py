"""The authorisation matrix of tasks: every route of the tasks API (a space's board, cards,
checklists, links, columns, labels, planning, settings; a page's checklist item turned into
a task; one's own tasks) and the "Mes tâches" page × every kind of person, written out as a
table and checked against the app in process (SQLite, then PostgreSQL when one answers).

Columns and outcomes read as in test_access_matrix_spaces.py: own adm edi com rea out iad slr
ple ano sgo exp dea pen; a refusal's status, or one of the case's own answers in `CASES`.
After every refusal and every answer that names no change, every table row and stored file
is as it was (the board exists before each request: reading it first makes it).

What the table says of tasks: the space's members who read (readers, commenters, guests of a
reader link to the space) read the board; editors and up write; the board's settings are
for owners and admins; a guest of a link to one page sees nothing of tasks, and someone
outside the space finds nothing (404). The API answers JSON: nobody signed in (or whose
session no longer counts) gets a 401 to show, not a redirect to a page it cannot use; the
"Mes tâches" page sends them to sign in. Things of another space, asked for through this
space's address, are not found. An archived space's board is read-only (409).

The column this world lacks, guests of an editor link to the whole space, is checked in
tests/web/tasks/test_access.py.
"""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from tests.support.access_matrix import (
    Answer,
    Case,
    Check,
    adds,
    does,
    read_table,
    removes,
    run_case,
    shows,
    table_of,
    updates,
)
from tests.support.matrix_tasks import (
    NEIGHBOURS_TASK,
    TASK,
    TASKS,
    a_column,
    a_label,
    a_link,
    a_planning_move,
    a_task,
    a_task_of_an_archived_space,
    an_archived_task,
    an_item,
    assigned,
    elsewhere,
    tasks_call,
    two_tasks,
    working_days_counted,
)
from tests.support.world_snapshot import InstanceState

TABLE = read_table("""
case                          own  adm  edi  com  rea  out  iad  slr  ple  ano  sgo  exp  dea  pen
# --- reading a space's tasks ---------------------------------------------------------------
the board                     ok   ok   ok   ok   ok   404  404  ok   404  401  401  401  401  401
archived cards                ok   ok   ok   ok   ok   404  404  ok   404  401  401  401  401  401
a task                        ok   ok   ok   ok   ok   404  404  ok   404  401  401  401  401  401
the planning                  ok   ok   ok   ok   ok   404  404  ok   404  401  401  401  401  401
the tasks as CSV              ok   ok   ok   ok   ok   404  404  ok   404  401  401  401  401  401
# --- cards ---------------------------------------------------------------------------------
create a task                 ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
update a task                 ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
delete a task                 ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
move a card                   ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
page item to task             ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
add a checklist item          ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
tick a checklist item         ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
remove a checklist item       ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
# --- the plan ------------------------------------------------------------------------------
move on the planning          ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
undo a planning move          ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
link two tasks                ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
change a link                 ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
remove a link                 ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
# --- the board's columns, labels and settings ----------------------------------------------
add a column                  ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
change a column               ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
remove a column               ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
add a label                   ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
change a label                ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
remove a label                ok   ok   ok   403  403  404  404  403  404  401  401  401  401  401
change the working days       ok   ok   403  403  403  404  404  403  404  401  401  401  401  401
# --- another space's things through this space's address ----------------------------------
another space's task          404  404  404  404  404  404  404  404  404  401  401  401  401  401
update another space's task   404  404  404  403  403  404  404  403  404  401  401  401  401  401
tick another space's item     404  404  404  403  403  404  404  403  404  401  401  401  401  401
remove another space's link   404  404  404  403  403  404  404  403  404  401  401  401  401  401
remove another space's column 404  404  404  403  403  404  404  403  404  401  401  401  401  401
remove another space's label  404  404  404  403  403  404  404  403  404  401  401  401  401  401
# --- an archived space ---------------------------------------------------------------------
an archived space's board     ok   ok   ok   ok   ok   404  404  ok   404  401  401  401  401  401
update in an archived space   409  409  409  403  403  404  404  403  404  401  401  401  401  401
# --- one's own tasks, across spaces --------------------------------------------------------
my tasks (JSON)               mine mine mine mine mine none none none none 401  401  401  401  401
my tasks page                 mine mine mine mine mine none none none none in   in   in   in   in
""")

SHOWN = shows("{title}")
TASK_ROUTE = "/api/espaces/{slug}/taches/{task_id:int}"
ITEM_ROUTE = TASK_ROUTE + "/liste/{item_id:int}"
LINK_ROUTE = "/api/espaces/{slug}/taches/dependances/{dep_id:int}"
COLUMN_ROUTE = "/api/espaces/{slug}/taches/colonnes/{column_id:int}"
LABEL_ROUTE = "/api/espaces/{slug}/taches/etiquettes/{label_id:int}"
CHECKLIST = "task_checklist_items tasks"  # an item's change bumps its task's version


def changes(tables: str, *effects: Check, status: int = 200) -> Answer:
    """A JSON answer that changes exactly `tables` (space-separated), as `effects` say."""
    return does(status, None, tables, *effects)


CASES: dict[str, Case] = {
    "the board": Case(
        "GET /api/espaces/{slug}/taches", tasks_call("GET", TASKS, None, a_task), SHOWN
    ),
    "archived cards": Case(
        "GET /api/espaces/{slug}/taches/archives",
        tasks_call("GET", TASKS + "/archives", None, an_archived_task),
        SHOWN,
    ),
    "a task": Case(f"GET {TASK_ROUTE}", tasks_call("GET", TASK, None, a_task), SHOWN),
    "the planning": Case(
        "GET /api/espaces/{slug}/taches/planning",
        tasks_call("GET", TASKS + "/planning", None, a_task),
        SHOWN,
    ),
    "the tasks as CSV": Case(
        "GET /api/espaces/{slug}/taches/export.csv",
        tasks_call("GET", TASKS + "/export.csv", None, a_task),
        SHOWN,
    ),
    "create a task": Case(
        "POST /api/espaces/{slug}/taches",
        tasks_call("POST", TASKS, {"title": "Créée par {actor}"}),
        changes("tasks", adds("tasks", title="Créée par {actor}", created_by="{me}"), status=201),
    ),
    "update a task": Case(
        f"PATCH {TASK_ROUTE}",
        tasks_call("PATCH", TASK, {"version": 1, "title": "Renommée par {actor}"}, a_task),
        changes("tasks", updates("tasks", {"id": "{task}"}, title="Renommée par {actor}")),
    ),
    "delete a task": Case(
        f"DELETE {TASK_ROUTE}",
        tasks_call("DELETE", TASK, None, a_task),
        changes("tasks", removes("tasks", id="{task}")),
    ),
    "move a card": Case(
        f"POST {TASK_ROUTE}/deplacer",
        tasks_call(
            "POST", TASK + "/deplacer", {"column_id": "{column}", "order": "a0V"}, a_task, a_column
        ),
        changes("tasks", updates("tasks", {"id": "{task}"}, column_id="{column}")),
    ),
    "page item to task": Case(
        "POST /api/espaces/{slug}/pages/{page_id:int}/taches",
        tasks_call(
            "POST",
            "/api/espaces/{slug}/pages/{page}/taches",
            {"text": "Élément de {actor}", "item_id": "item-{actor}"},
        ),
        changes(
            "tasks",
            adds("tasks", title="Élément de {actor}", source_page_id="{page}", created_by="{me}"),
            status=201,
        ),
    ),
    "add a checklist item": Case(
        f"POST {TASK_ROUTE}/liste",
        tasks_call("POST", TASK + "/liste", {"text": "À faire par {actor}"}, a_task),
        changes(
            CHECKLIST,
            adds("task_checklist_items", task_id="{task}", text="À faire par {actor}"),
            status=201,
        ),
    ),
    "tick a checklist item": Case(
        f"PATCH {ITEM_ROUTE}",
        tasks_call("PATCH", TASK + "/liste/{item}", {"done": True}, a_task, an_item),
        changes(CHECKLIST, updates("task_checklist_items", {"id": "{item}"}, done=True)),
    ),
    "remove a checklist item": Case(
        f"DELETE {ITEM_ROUTE}",
        tasks_call("DELETE", TASK + "/liste/{item}", None, a_task, an_item),
        changes(CHECKLIST, removes("task_checklist_items", id="{item}")),
    ),
    "move on the planning": Case(
        f"POST {TASK_ROUTE}/planifier",
        tasks_call(
            "POST",
            TASK + "/planifier",
            {"start_date": "2026-06-01", "due_date": "2026-06-02", "version": 1},
            a_task,
        ),
        changes("tasks", updates("tasks", {"id": "{task}"}, start_date="2026-06-01")),
    ),
    "undo a planning move": Case(
        "POST /api/espaces/{slug}/taches/planning/annuler",
        tasks_call("POST", TASKS + "/planning/annuler", {"changes": "{changes}"}, a_planning_move),
        changes("tasks", updates("tasks", {"id": "{task}"}, start_date="2026-06-01")),
    ),
    "link two tasks": Case(
        "POST /api/espaces/{slug}/taches/dependances",
        tasks_call(
            "POST",
            TASKS + "/dependances",
            {"predecessor_id": "{a}", "successor_id": "{b}"},
            two_tasks,
        ),
        changes(
            "task_dependencies",
            adds("task_dependencies", predecessor_id="{a}", successor_id="{b}"),
            status=201,
        ),
    ),
    "change a link": Case(
        f"PATCH {LINK_ROUTE}",
        tasks_call("PATCH", TASKS + "/dependances/{dep}", {"lag_days": 1}, a_link),
        changes("task_dependencies", updates("task_dependencies", {"id": "{dep}"}, lag_days=1)),
    ),
    "remove a link": Case(
        f"DELETE {LINK_ROUTE}",
        tasks_call("DELETE", TASKS + "/dependances/{dep}", None, a_link),
        changes("task_dependencies", removes("task_dependencies", id="{dep}")),
    ),
    "add a column": Case(
        "POST /api/espaces/{slug}/taches/colonnes",
        tasks_call("POST", TASKS + "/colonnes", {"name": "Revue par {actor}"}),
        changes("task_columns", adds("task_columns", name="Revue par {actor}"), status=201),
    ),
    "change a column": Case(
        f"PATCH {COLUMN_ROUTE}",
        tasks_call("PATCH", TASKS + "/colonnes/{column}", {"wip_limit": 3}, a_column),
        changes("task_columns", updates("task_columns", {"id": "{column}"}, wip_limit=3)),
    ),
    "remove a column": Case(
        f"DELETE {COLUMN_ROUTE}",
        tasks_call("DELETE", TASKS + "/colonnes/{column}", None, a_column),
        changes("task_columns", removes("task_columns", id="{column}")),
    ),
    "add a label": Case(
        "POST /api/espaces/{slug}/taches/etiquettes",
        tasks_call("POST", TASKS + "/etiquettes", {"name": "Par {actor}", "colour": "#123456"}),
        changes("task_labels", adds("task_labels", name="Par {actor}"), status=201),
    ),
    "change a label": Case(
        f"PATCH {LABEL_ROUTE}",
        tasks_call("PATCH", TASKS + "/etiquettes/{label}", {"colour": "#654321"}, a_label),
        changes("task_labels", updates("task_labels", {"id": "{label}"}, colour="#654321")),
    ),
    "remove a label": Case(
        f"DELETE {LABEL_ROUTE}",
        tasks_call("DELETE", TASKS + "/etiquettes/{label}", None, a_label),
        changes("task_labels", removes("task_labels", id="{label}")),
    ),
    "change the working days": Case(
        "PATCH /api/espaces/{slug}/taches/reglages",
        tasks_call("PATCH", TASKS + "/reglages", {"skip_non_working": False}, working_days_counted),
        changes(
            "task_boards",
            updates("task_boards", {"space_id": "{space}"}, skip_non_working=False),
        ),
    ),
    "another space's task": Case(f"GET {TASK_ROUTE}", tasks_call("GET", TASK, None, elsewhere)),
    "update another space's task": Case(
        f"PATCH {TASK_ROUTE}",
        tasks_call("PATCH", TASK, {"version": 1, "title": "Par {actor}"}, elsewhere),
    ),
    "tick another space's item": Case(
        f"PATCH {ITEM_ROUTE}",
        tasks_call("PATCH", TASK + "/liste/{item}", {"done": True}, elsewhere),
    ),
    "remove another space's link": Case(
        f"DELETE {LINK_ROUTE}", tasks_call("DELETE", TASKS + "/dependances/{dep}", None, elsewhere)
    ),
    "remove another space's column": Case(
        f"DELETE {COLUMN_ROUTE}",
        tasks_call("DELETE", TASKS + "/colonnes/{column}", None, elsewhere),
    ),
    "remove another space's label": Case(
        f"DELETE {LABEL_ROUTE}",
        tasks_call("DELETE", TASKS + "/etiquettes/{label}", None, elsewhere),
    ),
    # Read-only for everyone: the board says so to those who would write.
    "an archived space's board": Case(
        "GET /api/espaces/{slug}/taches",
        tasks_call("GET", TASKS, None, a_task_of_an_archived_space),
        shows('"can_edit":false'),
    ),
    "update in an archived space": Case(
        f"PATCH {TASK_ROUTE}",
        tasks_call(
            "PATCH", TASK, {"version": 1, "title": "Par {actor}"}, a_task_of_an_archived_space
        ),
    ),
    # Each one sees the tasks assigned to them, not another member's; guests have none.
    "my tasks (JSON)": Case(
        "GET /api/taches",
        tasks_call("GET", "/api/taches", None, assigned),
        {
            "mine": Answer(200, shows="{title}", hides=NEIGHBOURS_TASK),
            "none": Answer(200, shows='"tasks":[]'),
        },
    ),
    "my tasks page": Case(
        "GET /taches",
        tasks_call("GET", "/taches", None, assigned),
        {
            "mine": Answer(200, shows="{title}", hides=NEIGHBOURS_TASK),
            "none": Answer(200, shows="<h1>Mes tâches", hides=NEIGHBOURS_TASK),
        },
    ),
}


def test_every_tasks_route_has_a_case_and_every_case_a_route(matrix_routes: set[str]) -> None:
    routes = {route for route in matrix_routes if table_of(route) == "tasks"}
    covered = {case.route for case in CASES.values()}
    assert sorted(routes - covered) == [], "tasks routes with no case in the table"
    assert sorted(covered - routes) == [], "cases of routes the app does not have (here)"


def test_the_table_and_the_cases_name_the_same_lines() -> None:
    assert sorted(set(TABLE) - set(CASES)) == [], "lines of the table with no case"
    assert sorted(set(CASES) - set(TABLE)) == [], "cases with no line in the table"


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", list(TABLE))
async def test_every_actor_gets_what_the_table_says(
    matrix_instance: tuple[Starlette, InstanceState], name: str
) -> None:
    app, state = matrix_instance
    seen, report = await run_case(app, state, CASES[name], TABLE[name])
    assert seen == TABLE[name], "\n".join(report)
