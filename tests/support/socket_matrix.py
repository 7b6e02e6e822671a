"""The WebSocket half of the authorisation matrix: each actor opens `/sync/{doc}`,
`/visio/{room}` or `/live` in process (`asgi_sockets.AppSocket`, with their session cookie)
and sends one kind of message; what happens is named by what was observed:

    4401 4403 1008 ...   the app closed the socket with that code (at once: refused)
    ok                   the message did what it is for (see each act below)
    deny                 /sync: the update was refused as read-only, the document unchanged
    ref                  /live: the topic was refused, and an event of it then published
                         never came
    host memb lobb       /visio: joined as a host, as a member, or waiting in the lobby
    ign                  /visio: ignored (nothing came back before the close of a `leave`)
    rtc                  /visio: joined, so the message belongs to WebRTC negotiation, which
                         real peers drive elsewhere (see the table's notes); not sent here

Around each actor's socket every table row and stored file is compared, as over HTTP: only
the outcomes a case names may change something (a written document), and only its tables.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from starlette.applications import Starlette

from live.protocol import ClientMessage
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


def live_message_kinds() -> set[str]:
    """Every kind of live-stream message a client may send (`live.protocol.ClientMessage`)."""
    return {kind.__name__ for kind in get_args(ClientMessage)}


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
    # The app greets whom it takes (False: it waits for the client to speak first).
    greets: bool = True
    # Made for each actor before the snapshot that their socket is compared against.
    prepare: Callable[[MatrixWorld, str], Awaitable[None]] | None = None


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
    """An edit (as sync step 2 or update) of the socket's document: ok when the document then
    holds it; deny when the app answers "read-only" and the document does not."""

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
        doc = str(sock.scope["path"]).removeprefix("/sync/")
        holds = text in await document_text(world.app, doc)
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


# --- /live ------------------------------------------------------------------------------------

LIVE = "WS /live"
Topic = Callable[[MatrixWorld, str], Awaitable[str]]


def _live(message: bytes | str | Closed) -> dict[str, Any]:
    return json.loads(message) if isinstance(message, str) else {}


def _hello(topics: list[str], last: str | None = None) -> str:
    return json.dumps({"type": "hello", "last": last, "topics": topics})


def _own_topic(world: MatrixWorld, actor: str) -> str:
    me = world.person(actor)
    assert me is not None, f"{actor} is nobody: the stream refuses them before this"
    return f"user:{me.id}"


def _answer_about(topic: str) -> Callable[[bytes | str | Closed], bool]:
    return lambda m: (
        _live(m).get("type") in ("subscribed", "refused") and (_live(m).get("topic") == topic)
    )


async def _delivered(sock: AppSocket, world: MatrixWorld, actor: str, topic: str) -> bool | Closed:
    """Whether an event published on `topic` now comes to the socket: one is published there,
    then one on the actor's own topic, which comes in any case, and after the first."""
    live = world.app.state.live
    mark = uuid.uuid4().hex
    await live.publish(topic, "matrix.test", {"mark": mark})
    await live.publish(_own_topic(world, actor), "matrix.end", {"mark": mark})
    came = False
    while True:
        message = await sock.receive()
        if isinstance(message, Closed):
            return message
        event = _live(message)
        if event.get("type") == "event" and event["data"].get("mark") == mark:
            if event["kind"] == "matrix.end":
                return came
            came = True


async def live_opens(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
    """Opened: a hello is answered with `ready`."""
    await sock.send_text(_hello([]))
    answer = await sock.receive_until(lambda m: _live(m).get("type") == "ready")
    return closed(answer.code) if isinstance(answer, Closed) else "ok"


def live_case(kind: str, act: Act, topic: Topic | None = None) -> SocketCase:
    """A line of `/live`: `act` sends a message of `kind` about `topic` (made for each actor
    before its socket opens, then `world.prepared[actor]`)."""

    async def path(world: MatrixWorld) -> str:
        return "/live"

    async def prepare(world: MatrixWorld, actor: str) -> None:
        if topic is not None:
            world.prepared[actor] = await topic(world, actor)

    return SocketCase(LIVE, kind, path, act, greets=False, prepare=prepare)


async def subscribes(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
    """A subscription, once caught up: ok when it is answered `subscribed` and an event of
    the topic then comes; ref when it is `refused` and none comes."""
    wanted = str(world.prepared[actor])
    await sock.send_text(_hello([]))
    ready = await sock.receive_until(lambda m: _live(m).get("type") == "ready")
    if isinstance(ready, Closed):
        return closed(ready.code)
    await sock.send_text(json.dumps({"type": "subscribe", "topic": wanted}))
    answer = await sock.receive_until(_answer_about(wanted))
    if isinstance(answer, Closed):
        return closed(answer.code)
    came = await _delivered(sock, world, actor, wanted)
    if isinstance(came, Closed):
        return closed(came.code)
    if _live(answer)["type"] == "refused":
        return "ref+event" if came else "ref"
    return "ok" if came else "lost"


async def greets_with(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
    """A hello asking for a topic, with the last event seen: ok when what the topic had since
    is replayed and the topic `subscribed`; ref when it is `refused` and nothing replayed."""
    wanted = str(world.prepared[actor])
    live = world.app.state.live
    seen = await live.publish("matrix:start", "matrix.start", {})
    mark = uuid.uuid4().hex
    await live.publish(wanted, "matrix.test", {"mark": mark})
    await sock.send_text(_hello([wanted], last=seen.id))
    replayed = refused = False
    while True:
        message = await sock.receive()
        if isinstance(message, Closed):
            return closed(message.code)
        got = _live(message)
        if got.get("type") == "ready":
            break
        replayed |= got.get("type") == "event" and got["data"].get("mark") == mark
        refused |= got.get("type") == "refused" and got.get("topic") == wanted
    if refused:
        return "ref+event" if replayed else "ref"
    answer = await sock.receive_until(_answer_about(wanted))
    if isinstance(answer, Closed):
        return closed(answer.code)
    return "ok" if replayed else "lost"


async def unsubscribes(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
    """Following a topic (or trying to), then unsubscribing: ok when it is answered
    `unsubscribed` and no event of it comes any more."""
    wanted = str(world.prepared[actor])
    await sock.send_text(_hello([wanted]))
    ready = await sock.receive_until(lambda m: _live(m).get("type") == "ready")
    if isinstance(ready, Closed):
        return closed(ready.code)
    await sock.send_text(json.dumps({"type": "unsubscribe", "topic": wanted}))
    answer = await sock.receive_until(
        lambda m: _live(m).get("type") == "unsubscribed" and _live(m).get("topic") == wanted
    )
    if isinstance(answer, Closed):
        return closed(answer.code)
    came = await _delivered(sock, world, actor, wanted)
    if isinstance(came, Closed):
        return closed(came.code)
    return "still" if came else "ok"


async def pings(sock: AppSocket, world: MatrixWorld, actor: str) -> str:
    """A ping: ok when a pong answers."""
    await sock.send_text(json.dumps({"type": "ping"}))
    answer = await sock.receive_until(lambda m: _live(m).get("type") == "pong")
    return closed(answer.code) if isinstance(answer, Closed) else "ok"


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
            if case.prepare is not None:
                await case.prepare(world, actor)
            before = await state.snapshot()
            sock = AppSocket(app, path, cookie=world.cookies[actor])
            opened = await sock.opened(greeted=case.greets)
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
