"""The WebSocket half of the authorisation matrix: each actor opens `/sync/{doc}` or
`/visio/{room}` in process (`asgi_sockets.AppSocket`, with their session cookie) and sends
one kind of message; what happens is named by what was observed:

    4401 4403 1008 ...   the app closed the socket with that code (at once: refused)
    ok                   the message did what it is for (see each act below)
    deny                 /sync: the update was refused as read-only, the document unchanged
    host memb lobb       /visio: joined as a host, as a member, or waiting in the lobby
    ign                  /visio: ignored (nothing came back before the close of a `leave`)
    rtc                  /visio: joined, so the message belongs to WebRTC negotiation, which
                         real peers drive elsewhere (see the table's notes); not sent here

Around each actor's socket every table row and stored file is compared, as over HTTP: only
the outcomes a case names may change something (a written document), and only its tables.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from starlette.applications import Starlette

from realtime.protocol import (
    AwarenessMessage,
    Message,
    PermissionDenied,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    parse_message,
    write_var_string,
    write_var_uint,
)
from sfu.signaling import CLIENT_MESSAGES
from tests.support.asgi_sockets import AppSocket, Closed
from tests.support.matrix_requests import actor_number, document_text
from tests.support.matrix_world import COLUMNS, Browsers, MatrixWorld, build_matrix_world
from tests.support.tiptap_documents import document_state, paragraph
from tests.support.world_snapshot import InstanceState, compare

Act = Callable[[AppSocket, MatrixWorld, str], Awaitable[str]]
EMPTY_STATE_VECTOR = b"\x00"


def sync_message_kinds() -> set[str]:
    """Every kind of y-websocket message the product parses (`realtime.protocol.Message`)."""
    return {kind.__name__ for kind in get_args(Message)}


def visio_message_kinds() -> set[str]:
    """Every kind of meeting message a client may send (`sfu.signaling.CLIENT_MESSAGES`)."""
    return set(CLIENT_MESSAGES)


@dataclass(frozen=True)
class SocketCase:
    """One line of the sockets' table: the route, the message kind it sends ("open" for
    none), where the actor connects, what it does once in, and the tables that an outcome
    may change (`{"ok": "document_updates"}`; any other outcome changes nothing)."""

    route: str
    kind: str
    path: Callable[[MatrixWorld], Awaitable[str]]
    act: Act
    touches: Mapping[str, str] = field(default_factory=dict)
    # A watcher (the owner, on another socket) is there first, with its presence set.
    watched: bool = False


def closed(code: int) -> str:
    return str(code)


# --- /sync -------------------------------------------------------------------------------------


def _sync(data: bytes | str | Closed) -> Any:
    return parse_message(data) if isinstance(data, bytes) else None


def _awareness_of(client_id: int, name: str) -> bytes:
    state = json.dumps({"user": {"name": name}})
    return (
        write_var_uint(1) + write_var_uint(client_id) + write_var_uint(1) + write_var_string(state)
    )


def _names_in(message: Any) -> str:
    return (
        message.update.decode("utf-8", "replace") if isinstance(message, AwarenessMessage) else ""
    )


async def opens(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
    """Opened: the greeting came (a sync step 1, a welcome or the lobby)."""
    return "ok"


async def asks_for_the_document(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
    """Sync step 1 ("send me what I lack"): ok when a sync step 2 answers."""
    await sock.send_bytes(bytes(SyncStep1(EMPTY_STATE_VECTOR)))
    answer = await sock.receive_until(lambda m: isinstance(_sync(m), SyncStep2))
    return closed(answer.code) if isinstance(answer, Closed) else "ok"


def writes(kind: type[SyncStep2] | type[SyncUpdate]) -> Act:
    """An edit (as sync step 2 or update): ok when the document then holds it; deny when
    the app answers "read-only" and the document does not."""

    async def act(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
        text = f"[écrit par {actor}]"
        await sock.send_bytes(bytes(kind(document_state(paragraph(text)))))
        # A sync step 1 after it: its answer comes after whatever the edit caused.
        await sock.send_bytes(bytes(SyncStep1(EMPTY_STATE_VECTOR)))
        answer = await sock.receive_until(
            lambda m: isinstance(_sync(m), PermissionDenied | SyncStep2)
        )
        if isinstance(answer, Closed):
            return closed(answer.code)
        holds = text in await document_text(world.app, world.world.page.doc_name)
        if isinstance(_sync(answer), PermissionDenied):
            return "deny+written" if holds else "deny"
        return "ok" if holds else "lost"

    return act


async def tells_presence(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
    """An awareness update (who is here, where the caret is): ok when it comes back shared."""
    await sock.send_bytes(bytes(AwarenessMessage(_awareness_of(5000 + actor_number(actor), actor))))
    answer = await sock.receive_until(lambda m: f'"{actor}"' in _names_in(_sync(m)))
    return closed(answer.code) if isinstance(answer, Closed) else "ok"


async def asks_presence(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
    """Query-awareness: ok when the watcher's presence comes in answer."""
    greeting = await sock.receive_until(lambda m: '"watcher"' in _names_in(_sync(m)))
    if isinstance(greeting, Closed):
        return closed(greeting.code)
    await sock.send_bytes(bytes(QueryAwareness()))
    answer = await sock.receive_until(lambda m: '"watcher"' in _names_in(_sync(m)))
    return closed(answer.code) if isinstance(answer, Closed) else "ok"


async def sends_an_auth_message(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
    """A permission-denied message, which only the server sends: how the app answers."""
    await sock.send_bytes(bytes(PermissionDenied("du client")))
    answer = await sock.receive_until(lambda m: False)
    assert isinstance(answer, Closed)
    return closed(answer.code)


async def watch(app: Starlette, world: MatrixWorld) -> AppSocket:
    """The owner on another socket of the shared page, its presence set as "watcher"."""
    sock = AppSocket(app, f"/sync/{world.world.page.doc_name}", cookie=world.cookies["owner"])
    assert await sock.opened() is True
    await sock.send_bytes(bytes(AwarenessMessage(_awareness_of(4999, "watcher"))))
    answer = await sock.receive_until(lambda m: '"watcher"' in _names_in(_sync(m)))
    assert not isinstance(answer, Closed), answer
    return sock


# --- /visio ------------------------------------------------------------------------------------


def _meeting(message: bytes | str | Closed) -> dict[str, Any]:
    return json.loads(message) if isinstance(message, str) else {}


async def _greeting(sock: AppSocket) -> str:
    first = _meeting(await sock.receive())
    if first.get("type") == "lobby":
        return "lobb"
    assert first.get("type") == "welcome", first
    return {"host": "host", "member": "memb", "guest": "guest"}[first["role"]]


async def joins(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
    """Joining a meeting: as a host, a member, or into the lobby."""
    return await _greeting(sock)


def says(message: dict[str, Any], echo: str | None) -> Act:
    """A room message: ok when its echo (`echo`, a message type) comes back, or, for one
    with no echo, when a raised hand sent after it does; else how the socket closed."""

    async def act(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
        await _greeting(sock)
        await sock.send_text(json.dumps(message))
        if echo is None:
            await sock.send_text(json.dumps({"type": "hand", "raised": True}))
        wanted = echo or "hand"
        answer = await sock.receive_until(lambda m: _meeting(m).get("type") == wanted)
        return closed(answer.code) if isinstance(answer, Closed) else "ok"

    return act


async def leaves(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
    """Leaving: ok when the app closes the socket as left (1000)."""
    await _greeting(sock)
    await sock.send_text(json.dumps({"type": "leave"}))
    answer = await sock.receive_until(lambda m: False)
    assert isinstance(answer, Closed)
    return "ok" if answer.code == 1000 else closed(answer.code)


def negotiates(message: dict[str, Any]) -> Act:
    """A media message. From the lobby it is sent: refused (a close) or ignored (the next
    thing after a `leave` is its close). Once joined it is WebRTC negotiation: "rtc"."""

    async def act(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
        if await _greeting(sock) != "lobb":
            return "rtc"
        await sock.send_text(json.dumps(message))
        await sock.send_text(json.dumps({"type": "leave"}))
        answer = await sock.receive_until(lambda m: False)
        assert isinstance(answer, Closed)
        return "ign" if answer.code == 1000 else closed(answer.code)

    return act


# --- running a case ----------------------------------------------------------------------------


async def run_socket_case(
    app: Starlette, state: InstanceState, case: SocketCase, wanted: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Each actor's socket on a new world: the outcome seen per column, and what went wrong."""
    await state.wipe()
    browsers = Browsers(app)
    seen: dict[str, str] = {}
    report: list[str] = []
    watcher: AppSocket | None = None
    try:
        world = await build_matrix_world(app, browsers)
        if case.watched:
            watcher = await watch(app, world)
        for column, actor in COLUMNS.items():
            path = await case.path(world)
            before = await state.snapshot()
            sock = AppSocket(app, path, cookie=world.cookies[actor])
            opened = await sock.opened()
            outcome = closed(opened.code) if isinstance(opened, Closed) else None
            if outcome is None:
                outcome = await case.act(sock, world, actor)
            await sock.close()
            change = compare(before, await state.snapshot())
            touched = set(case.touches.get(outcome, "").split())
            if change.tables() != touched:
                report.append(f"{column} ({actor}): {outcome}, and changed:\n{change.describe()}")
                outcome += "+changes"
            seen[column] = outcome
            if outcome != wanted[column]:
                report.append(f"{column} ({actor}): {outcome}, not {wanted[column]}")
    finally:
        if watcher is not None:
            await watcher.close()
        await browsers.close()
    return seen, report
