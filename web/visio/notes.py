"""The meeting-notes page of a space: one page a day, "Notes de réunion — <date>", created in the
space's tree by the first person who may write there and joins the meeting that day (a POST
from the meeting client: looking at the meeting page creates nothing)."""

from __future__ import annotations

import asyncio
from datetime import date

from sqlalchemy.ext.asyncio import AsyncEngine

from web.spaces.access import Actor, at_least, space_role
from web.spaces.errors import SpaceError
from web.spaces.tree import create_page, flatten, page_tree

TITLE = "Notes de réunion — {date}"
# One creation at a time per space in this process, so two people arriving together share a
# page (other workers may still race; the loser's page is just another page of the tree).
_creating: dict[int, asyncio.Lock] = {}


def notes_title(day: date) -> str:
    """The title of a day's meeting notes (ISO date: the same in every language)."""
    return TITLE.format(date=day.isoformat())


async def find_notes_page(engine: AsyncEngine, space_id: int, day: date) -> int | None:
    """The id of the day's meeting-notes page of a space, if it exists (not trashed)."""
    title = notes_title(day)
    for node, _depth in flatten(await page_tree(engine, space_id)):
        if node.title == title:
            return node.id
    return None


async def may_create_notes(engine: AsyncEngine, user: Actor, space_id: int) -> bool:
    """Whether the user may create the day's notes page (writes in the space)."""
    return at_least(await space_role(engine, user, space_id), "editor")


async def open_notes_page(engine: AsyncEngine, user: Actor, space_id: int, day: date) -> int | None:
    """The day's notes page; created when missing and the user may write in the space."""
    found = await find_notes_page(engine, space_id, day)
    if found is not None:
        return found
    if not await may_create_notes(engine, user, space_id):
        return None
    lock = _creating.setdefault(space_id, asyncio.Lock())
    async with lock:
        found = await find_notes_page(engine, space_id, day)
        if found is not None:
            return found
        try:
            return (await create_page(engine, user, space_id, notes_title(day))).id
        except SpaceError:  # archived space, role changed meanwhile
            return None
