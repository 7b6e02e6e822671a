"""How the tasks' table of the matrix (tests/web/test_access_matrix_tasks.py) makes each
actor's request, and what it prepares for it first, made by the owner through the services:
the board (so that reading it writes nothing), a task for the actor, a checklist item, a
link between two tasks, a column, a label, a planning move to undo, things of another
space, tasks assigned to the actor.

A request is `tasks_call(method, path, body, *makers)`: each maker adds fields (`{task}`,
`{item}`...) that the path, the JSON body and the case's answers and effects may name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from sqlalchemy import select

from tests.support.access_matrix import Prepare, Req, resolve
from tests.support.matrix_requests import member
from tests.support.matrix_world import MatrixWorld
from web.spaces import services
from web.tasks import editing, planning, structure
from web.tasks.common import TaskStore, ensure_board
from web.tasks.errors import TaskInvalid
from web.tasks.tables import tasks

TASKS = "/api/espaces/{slug}/taches"
TASK = TASKS + "/{task}"
MY_TASK = "Tâche pour {actor}"
NEIGHBOURS_TASK = "Tâche du voisin"

Fields = dict[str, Any]
Maker = Callable[[MatrixWorld, str, Fields], Awaitable[Fields]]


def store(world: MatrixWorld) -> TaskStore:
    return TaskStore(world.app.state.engine, world.app.state.task_hooks)


def filled(value: Any, fields: Fields) -> Any:
    """A JSON body with the fields put in (`"{task}"` is the field itself, as a number)."""
    if isinstance(value, dict):
        return {k: filled(v, fields) for k, v in value.items()}
    if isinstance(value, list):
        return [filled(v, fields) for v in value]
    return resolve(value, fields)


def tasks_call(method: str, path: str, body: Any = None, *makers: Maker) -> Prepare:
    """A request of the tasks API (or a page of tasks) once the board exists and the makers
    have made what it is about."""

    async def prepare(world: MatrixWorld, actor: str) -> Req:
        await ensure_board(store(world), world.space_id)
        fields: Fields = world.fields(actor)
        for make in makers:
            fields |= await make(world, actor, fields)
        json = None if body is None else filled(body, fields)
        return Req(method, path.format(**fields), json=json, fields=fields)

    return prepare


async def _task(world: MatrixWorld, space_id: int, title: str, **values: Any) -> int:
    made = await editing.create_task(
        store(world), world.owner, space_id, {"title": title, **values}
    )
    return int(made.body["task"]["id"])


async def new_task(world: MatrixWorld) -> int:
    """A task of the space, made by the owner: its id."""
    return await _task(world, world.space_id, "Tâche du matrix")


async def new_task_doc(world: MatrixWorld) -> str:
    """A task of the space, made by the owner: the name of its description's document."""
    task_id = await new_task(world)
    async with world.app.state.engine.connect() as conn:
        found = await conn.execute(select(tasks.c.doc_name).where(tasks.c.id == task_id))
        return str(found.scalar_one())


# --- makers -------------------------------------------------------------------------------------


async def a_task(world: MatrixWorld, actor: str, fields: Fields) -> Fields:
    """A task of the space, titled for the actor (`{task}`, `{title}`)."""
    title = MY_TASK.format(actor=actor)
    return {"task": await _task(world, world.space_id, title), "title": title}


async def an_archived_task(world: MatrixWorld, actor: str, fields: Fields) -> Fields:
    title = MY_TASK.format(actor=actor)
    return {"task": await _task(world, world.space_id, title, archived=True), "title": title}


async def an_item(world: MatrixWorld, actor: str, fields: Fields) -> Fields:
    """A checklist item (`{item}`) of the task made before."""
    made = await editing.add_checklist_item(
        store(world), world.owner, world.space_id, fields["task"], "Élément"
    )
    return {"item": int(made.body["item_id"])}


async def two_tasks(world: MatrixWorld, actor: str, fields: Fields) -> Fields:
    return {
        "a": await _task(world, world.space_id, "Avant"),
        "b": await _task(world, world.space_id, "Après"),
    }


async def a_link(world: MatrixWorld, actor: str, fields: Fields) -> Fields:
    """Two tasks of the space (`{a}`, `{b}`), the first before the second (`{dep}`)."""
    pair = await two_tasks(world, actor, fields)
    made = await planning.add_dependency(
        store(world), world.owner, world.space_id, pair["a"], pair["b"], "FS", 0
    )
    return {**pair, "dep": int(made.body["dependency"]["id"])}


async def a_column(world: MatrixWorld, actor: str, fields: Fields) -> Fields:
    made = await structure.add_column(
        store(world), world.owner, world.space_id, {"name": f"Colonne pour {actor}"}
    )
    return {"column": int(made.body["column"]["id"])}


async def a_label(world: MatrixWorld, actor: str, fields: Fields) -> Fields:
    made = await structure.add_label(
        store(world), world.owner, world.space_id, f"Étiquette pour {actor}", "#123456"
    )
    return {"label": int(made.body["label"]["id"])}


async def a_planning_move(world: MatrixWorld, actor: str, fields: Fields) -> Fields:
    """A task moved on the planning by the owner: `{changes}`, what undoes it."""
    task = await _task(
        world, world.space_id, "Planifiée", start_date=date(2026, 6, 1), due_date=date(2026, 6, 2)
    )
    moved = await planning.reschedule_task(
        store(world), world.owner, world.space_id, task, 1, date(2026, 6, 8), date(2026, 6, 9)
    )
    changes = [
        {"id": c["id"], "version": c["version"], **c["before"]} for c in moved.body["changes"]
    ]
    return {"task": task, "changes": changes}


async def working_days_counted(world: MatrixWorld, actor: str, fields: Fields) -> Fields:
    """The board skips weekends and holidays (as a request of the case may have changed)."""
    await structure.change_settings(store(world), world.owner, world.space_id, True)
    return {}


async def a_task_of_an_archived_space(world: MatrixWorld, actor: str, fields: Fields) -> Fields:
    """A task for the actor (`{task}`, `{title}`), made before the space was archived."""
    engine = world.app.state.engine
    await services.set_archived(engine, world.owner, world.space_id, False)
    made = await a_task(world, actor, fields)
    await services.set_archived(engine, world.owner, world.space_id, True)
    return made


async def elsewhere(world: MatrixWorld, actor: str, fields: Fields) -> Fields:
    """Things of another space of the owner, where nobody else is: a task with a checklist
    item, a link, a column, a label (`{task}`, `{item}`, `{dep}`, `{column}`, `{label}`).
    Made once for all the actors of a line: asking for them must leave them as they are."""
    if "elsewhere" not in world.prepared:
        world.prepared["elsewhere"] = await _elsewhere(world)
    return dict(world.prepared["elsewhere"])


async def _elsewhere(world: MatrixWorld) -> Fields:
    engine = world.app.state.engine
    other = (await services.create_space(engine, world.owner, name="Ailleurs")).id
    kept = store(world)
    task = await _task(world, other, "Tâche d’ailleurs")
    item = await editing.add_checklist_item(kept, world.owner, other, task, "Élément d’ailleurs")
    after = await _task(world, other, "Après, ailleurs")
    dep = await planning.add_dependency(kept, world.owner, other, task, after, "FS", 0)
    column = await structure.add_column(kept, world.owner, other, {"name": "Colonne d’ailleurs"})
    label = await structure.add_label(kept, world.owner, other, "Étiquette d’ailleurs", "#123456")
    return {
        "task": task,
        "item": int(item.body["item_id"]),
        "dep": int(dep.body["dependency"]["id"]),
        "column": int(column.body["column"]["id"]),
        "label": int(label.body["label"]["id"]),
    }


async def assigned(world: MatrixWorld, actor: str, fields: Fields) -> Fields:
    """A task assigned to the actor when they are a member (`{title}`), and one assigned to
    another member."""
    neighbour = await member(world, "editor", "voisin")
    await _task(world, world.space_id, NEIGHBOURS_TASK, assignees=[neighbour.id])
    title = MY_TASK.format(actor=actor)
    me = world.person(actor)
    if me is not None:
        try:
            await _task(world, world.space_id, title, assignees=[me.id])
        except TaskInvalid:  # not a member: nobody may assign them a task here
            pass
    return {"title": title}
