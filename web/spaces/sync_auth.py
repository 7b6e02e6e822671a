"""Who may open `/sync/{doc}`: the session user (members, guest-link sessions), else `?token=`."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.websockets import WebSocket

from realtime.endpoint import AccessRefused, Authorizer, Grant
from web.auth.current import current_user
from web.spaces.access import document_grant


class SpacesAuthorizer:
    """Grants a page's document by the user's role on it; other credentials fall through.

    Order: the session user (a member, or a guest whose link is re-checked now), then a
    signed `?token=` (scripts, bots). Refusals: 4401 with no credentials, 4403 otherwise.
    """

    def __init__(self, engine: AsyncEngine, tokens: Authorizer) -> None:
        self._engine = engine
        self._tokens = tokens

    async def __call__(self, websocket: WebSocket, document: str) -> Grant:
        user = current_user(websocket)
        if user is not None:
            grant = await document_grant(self._engine, user, document)
            if grant is not None:
                return grant
        if websocket.query_params.get("token"):
            return await self._tokens(websocket, document)
        if user is None:
            raise AccessRefused(4401, "sign in or pass ?token=")
        raise AccessRefused(4403, "you may not open this document")
