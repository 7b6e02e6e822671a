"""Who may join a meeting over `/visio/{room}`: the web app's answer to the SFU's question.

- `space-<id>` rooms: signed-in members of the space (space owners and admins are hosts;
  other members and agents reading a listed space join directly); a guest whose guest link to
  that space is live waits in the lobby until a host admits them;
- `meet-<name>` ad-hoc rooms: any signed-in person who is not a guest, as a host;
- any room with `?token=` minted by `atelier token --docs visio-...` (bots, benchmarks): a
  read-write token joins as a host, read-only as a member; `?name=` sets the display name.
Refusals close with 4401 (no credentials) or 4403 (forbidden), like `/sync`. An admission
checks itself again when access changes (a role lowered, the person removed, signed out).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.websockets import WebSocket

from sfu.endpoint import Admission, VisioRefused
from sfu.room import Newcomer
from web.auth.current import CurrentUser, current_user, user_of_session
from web.auth.sessions import SessionStore
from web.auth.tokens import TokenError, read_document_token
from web.live_access import SIGNED_OUT, person_tags, space_tag
from web.spaces.access import at_least, live_link, space_role, utcnow


@dataclass(frozen=True)
class MeetingAuthorizer:
    """Decides who a connection is in a room: an `Admission`, or `VisioRefused`."""

    sessions: SessionStore
    secret: str

    async def __call__(self, websocket: WebSocket, room: str) -> Admission:
        user = current_user(websocket)
        if user is not None:
            admission = await self.admit(user, room)
            if admission is not None:
                return admission
        token = websocket.query_params.get("token")
        if token:
            return self._by_token(websocket, room, token)
        if user is None:
            raise VisioRefused(4401, "sign in or pass ?token=")
        raise VisioRefused(4403, "you may not join this meeting")

    def _by_token(self, websocket: WebSocket, room: str, token: str) -> Admission:
        try:
            grant = read_document_token(self.secret, token, now=time.time())
        except TokenError as exc:
            raise VisioRefused(4401, str(exc)) from None
        if not grant.covers(f"visio-{room}"):
            raise VisioRefused(4403, "this token does not grant that meeting")
        name = websocket.query_params.get("name") or grant.name or "bot"
        role = "host" if grant.writable else "member"
        newcomer = Newcomer(name[:80], role, principal=f"token:{grant.name}")
        return Admission(newcomer, frozenset({f"token:{grant.name}"}))

    async def admit(self, user: CurrentUser, room: str) -> Admission | None:
        """Who `user` is in `room` now (host, member, guest in the lobby), or None."""
        newcomer, space_id = await self._newcomer(user, room)
        if newcomer is None:
            return None
        session_id = user.session_id

        async def recheck() -> Newcomer | None:
            now = await user_of_session(self.sessions, session_id)
            if now is None:
                raise VisioRefused(SIGNED_OUT, "signed out")
            return (await self._newcomer(now, room))[0]

        tags = person_tags(user.id, session_id, user.guest_link_id)
        if space_id is not None:
            tags |= {space_tag(space_id)}
        return Admission(newcomer, tags, recheck)

    async def _newcomer(self, user: CurrentUser, room: str) -> tuple[Newcomer | None, int | None]:
        principal = f"user:{user.id}"
        if room.startswith("meet-"):
            if user.is_guest:
                return None, None
            return Newcomer(user.display_name, "host", principal=principal), None
        space_id = int(room.removeprefix("space-"))
        if user.guest_link_id is not None:
            async with self.sessions.engine.connect() as conn:
                link = await live_link(conn, user.guest_link_id, utcnow())
            if link is None or link.space_id != space_id:
                return None, space_id
            principal = f"guest-link:{link.id}"
            guest = Newcomer(user.display_name, "guest", principal=principal, lobby=True)
            return guest, space_id
        role = await space_role(self.sessions.engine, user, space_id)
        if role is None:
            return None, space_id
        kind = "host" if at_least(role, "admin") else "member"
        return Newcomer(user.display_name, kind, principal=principal), space_id
