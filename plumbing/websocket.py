"""How every WebSocket endpoint begins and ends a connection, as Starlette's `websocket_session`.

`/sync` and `/visio` (and the live stream) each run a session of their own; around it, this one
path accepts the socket, checks the name in its address, turns a `SocketRefused` into a close
with its code and reason, lets a client that went away end quietly, costs one connection (never
the worker) for a bug, and makes sure the socket ends closed.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from plumbing.wsframe import DIRECT_EXTENSION, DirectSocket

# A bug in a session costs its connection this close (the client may retry).
INTERNAL_ERROR = 1011


class SocketRefused(Exception):
    """A connection is refused or ended: close it with `code` and `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


Session = Callable[[WebSocket, str], Awaitable[None]]


def _closed(websocket: WebSocket) -> bool:
    if WebSocketState.DISCONNECTED in (websocket.application_state, websocket.client_state):
        return True
    # A direct socket closes on its own transport, behind ASGI's back.
    direct: DirectSocket | None = websocket.scope.get("extensions", {}).get(DIRECT_EXTENSION)
    return direct is not None and direct.closing


async def close(websocket: WebSocket, code: int, reason: str = "") -> None:
    """Close unless already closed; a client gone meanwhile is no error."""
    if not _closed(websocket):
        with contextlib.suppress(Exception):
            await websocket.close(code, reason[:120])


async def websocket_session(
    websocket: WebSocket,
    *,
    what: str,
    session: Session,
    log: logging.Logger,
    name: str | None = None,
    pattern: re.Pattern[str] | None = None,
) -> None:
    """Run `session(websocket, value)` for the path parameter `name`, checked by `pattern`
    (no parameter: `value` is "")."""
    await websocket.accept()
    value = "" if name is None else str(websocket.path_params.get(name, ""))
    if pattern is not None and not pattern.match(value):
        await close(websocket, 1008, f"invalid {what} name")
        return
    try:
        await session(websocket, value)
    except SocketRefused as refused:
        await close(websocket, refused.code, refused.reason)
    except (WebSocketDisconnect, ConnectionError):
        pass
    except Exception:
        log.exception("%s %s: unexpected error", what, value)
        await close(websocket, INTERNAL_ERROR, "internal error")
    finally:
        await close(websocket, 1000)
