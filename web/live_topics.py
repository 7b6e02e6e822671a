"""Who may follow which topic of the live stream (`/live`): the web app's answer to the engine.

Topics name what events are about: `user:<id>` (a person's own notifications: only theirs),
`space:<id>` (a space's activity, boards, files: its members and readers), `item:<kind>:<id>`
(a page's comments, later a task's or an event's: whoever may read the item). Each item kind
registers how to check it (`ItemTopics.register`), so that every feature uses the same stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.websockets import WebSocket

from live.stream import Viewer
from plumbing.websocket import SocketRefused
from web.auth.current import CurrentUser, current_user, user_of_session
from web.auth.sessions import SessionStore
from web.live_access import SIGNED_OUT, person_tags
from web.spaces.access import MAX_ID, content_role_in, page_role, space_role, utcnow

ItemCheck = Callable[[AsyncEngine, CurrentUser, int], Awaitable[bool]]


def person_topic(user_id: int) -> str:
    return f"user:{user_id}"


def space_topic(space_id: int) -> str:
    return f"space:{space_id}"


def item_topic(kind: str, item_id: int) -> str:
    return f"item:{kind}:{item_id}"


async def _may_read_page(engine: AsyncEngine, user: CurrentUser, page_id: int) -> bool:
    return await page_role(engine, user, page_id) is not None


async def _may_read_space_home(engine: AsyncEngine, user: CurrentUser, space_id: int) -> bool:
    """`item:space:<id>`: a space's home (its comments, its recommendations)."""
    if not 0 < space_id < MAX_ID:
        return False
    async with engine.connect() as conn:
        return await content_role_in(conn, user, space_id, utcnow()) is not None


class ItemTopics:
    """How to check each kind of item (pages today; tasks, events, files, posts later)."""

    def __init__(self) -> None:
        self._checks: dict[str, ItemCheck] = {
            "page": _may_read_page,
            "space": _may_read_space_home,
        }

    def register(self, kind: str, check: ItemCheck) -> None:
        self._checks[kind] = check

    async def may_follow(self, engine: AsyncEngine, user: CurrentUser, topic: str) -> bool:
        """Whether `user` may follow `topic` (unknown topics: no)."""
        kind, _, rest = topic.partition(":")
        if kind == "user":
            return rest == str(user.id)
        if kind == "space":
            return rest.isdigit() and await space_role(engine, user, int(rest)) is not None
        if kind == "item":
            item_kind, _, item_id = rest.partition(":")
            check = self._checks.get(item_kind)
            if check is None or not item_id.isdigit() or len(item_id) > 10:
                return False
            return await check(engine, user, int(item_id))
        return False


class LiveAuthorizer:
    """Who a `/live` connection is: the signed-in person (guests included), else refused."""

    def __init__(self, sessions: SessionStore, items: ItemTopics) -> None:
        self._sessions = sessions
        self._items = items

    async def __call__(self, websocket: WebSocket) -> Viewer:
        user = current_user(websocket)
        if user is None:
            raise SocketRefused(SIGNED_OUT, "sign in to follow live events")
        session_id = user.session_id
        engine = self._sessions.engine

        async def may_follow(topic: str) -> bool:
            now = await user_of_session(self._sessions, session_id)
            return now is not None and await self._items.may_follow(engine, now, topic)

        async def still_allowed() -> bool:
            return await user_of_session(self._sessions, session_id) is not None

        # "space:*": a change of access in any space reaches this socket, which re-checks the
        # topics it follows.
        tags = person_tags(user.id, session_id, user.guest_link_id) | {"space:*"}
        return Viewer(frozenset({person_topic(user.id)}), tags, may_follow, still_allowed)
