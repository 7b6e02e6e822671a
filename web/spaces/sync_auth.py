"""Who may open `/sync/{doc}`: the session user (members, guest-link sessions), else `?token=`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.websockets import WebSocket

from realtime.endpoint import Access, AccessRefused, Authorizer, Grant
from web.auth.current import CurrentUser, current_user, user_of_session
from web.auth.sessions import SessionStore
from web.live_access import SIGNED_OUT, person_tags, space_tag
from web.spaces.access import document_role


class SpacesAuthorizer:
    """Grants a page's document by the user's role on it; other credentials fall through.

    Order: the session user (a member, or a guest whose link is re-checked now), then a
    signed `?token=` (scripts, bots). Refusals: 4401 with no credentials, 4403 otherwise.
    A grant checks itself again, with the session and user as they are then, when access
    may have changed (`Grant.recheck`).
    """

    def __init__(self, sessions: SessionStore, tokens: Authorizer) -> None:
        self._sessions = sessions
        self._engine: AsyncEngine = sessions.engine
        self._tokens = tokens

    async def __call__(self, websocket: WebSocket, document: str) -> Grant:
        user = current_user(websocket)
        if user is not None:
            grant = await self.user_grant(user, document)
            if grant is not None:
                return grant
        if websocket.query_params.get("token"):
            return await self._tokens(websocket, document)
        if user is None:
            raise AccessRefused(4401, "sign in or pass ?token=")
        raise AccessRefused(4403, "you may not open this document")

    async def user_grant(self, user: CurrentUser, document: str) -> Grant | None:
        """What `user` may do with `document` now, or None."""
        found = await document_role(self._engine, user, document)
        if found is None:
            return None
        session_id = user.session_id

        async def recheck() -> Grant | None:
            now = await user_of_session(self._sessions, session_id)
            if now is None:
                raise AccessRefused(SIGNED_OUT, "signed out")
            return await self.user_grant(now, document)

        tags = person_tags(user.id, session_id, user.guest_link_id) | {space_tag(found.space_id)}
        access = Access.WRITE if found.writable else Access.READ
        return Grant(access, tags, recheck)
