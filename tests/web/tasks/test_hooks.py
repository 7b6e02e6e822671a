"""The social layer's hooks: every change reaches the activity hooks inside its own
transaction (a failing hook undoes the change), and comment counts show on the cards."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.spaces_world import World
from tests.support.tasks import TasksApi
from web.tasks import editing
from web.tasks.common import Change, TaskHooks, TaskStore


async def test_every_change_reaches_the_activity_hook_with_who_and_where(
    world: World, editor: TasksApi
) -> None:
    seen: list[Change] = []

    async def feed(conn: AsyncConnection, change: Change) -> None:
        assert conn.in_transaction()
        seen.append(change)

    world.app.state.task_hooks.activity.append(feed)
    task = await editor.create("Suivie")
    column = task["column_id"]
    await editor.ok("POST", f"/{task['id']}/deplacer", {"column_id": column, "order": "a5"})
    assert [c.event.kind for c in seen] == ["task.created", "task.moved"]
    assert {(c.space_id, c.actor_id) for c in seen} == {(world.space_id, world.people["editor"].id)}


async def test_a_change_whose_feed_entry_fails_is_not_written(
    world: World, editor: TasksApi
) -> None:
    async def broken(conn: AsyncConnection, change: Change) -> None:
        raise RuntimeError("the feed is down")

    task = await editor.create("Avant")
    store = TaskStore(world.app.state.engine, TaskHooks(activity=[broken]))
    with pytest.raises(RuntimeError):
        await editing.update_task(
            store, world.people["editor"], world.space_id, task["id"], 1, {"title": "Après"}
        )
    assert (await editor.board())["tasks"][0]["title"] == "Avant"


async def test_cards_show_the_comment_counts_the_social_layer_gives(
    world: World, editor: TasksApi
) -> None:
    await editor.create("Commentée")

    async def counts(conn: AsyncConnection, ids: Sequence[int]) -> Mapping[int, int]:
        return {task_id: 3 for task_id in ids}

    world.app.state.task_hooks.comment_counts = counts
    assert (await editor.board())["tasks"][0]["comments"] == 3
