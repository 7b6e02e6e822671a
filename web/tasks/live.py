"""Tasks on the live stream: who may follow a task's own topic, and publishing a change's
events once it is committed (docs/tasks.md, "Live events")."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from live.stream import LiveStream
from web.auth.current import CurrentUser
from web.live_topics import item_topic, space_topic
from web.spaces.access import MAX_ID, content_role_in, utcnow
from web.tasks.common import TaskEvent
from web.tasks.tables import tasks

log = logging.getLogger("atelier.tasks")


async def may_follow_task(engine: AsyncEngine, user: CurrentUser, task_id: int) -> bool:
    """`item:task:<id>`: whoever may read the task's board."""
    if not 0 < task_id < MAX_ID:
        return False
    async with engine.connect() as conn:
        space_id = (
            await conn.execute(select(tasks.c.space_id).where(tasks.c.id == task_id))
        ).scalar()
        if space_id is None:
            return False
        return await content_role_in(conn, user, space_id, utcnow()) is not None


async def publish(live: LiveStream, space_id: int, events: Iterable[TaskEvent]) -> None:
    """Hand committed changes to every viewer: the space's topic (board, Gantt) and each
    task's own (its panel). A failure to publish loses no change: viewers that missed it
    catch up when they reload or reconnect past the stream's window."""
    try:
        for event in events:
            if event.to_space:
                await live.publish(space_topic(space_id), event.kind, event.data)
            if event.task_id is not None:
                await live.publish(item_topic("task", event.task_id), event.kind, event.data)
    except Exception:
        log.warning("could not publish task events of space %s", space_id, exc_info=True)
