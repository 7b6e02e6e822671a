"""The authorisation matrix of the WebSocket routes: who may open `/sync/{doc}`,
`/visio/{room}` and `/live`, and send each kind of message there, written out as a table and
checked against the app in process (SQLite, then PostgreSQL when one answers).

Columns as in test_access_matrix_spaces.py; the outcomes are named in
tests/support/socket_matrix.py: a close code (the socket refused), `ok`, `deny` (a read-only
edit refused, the document unchanged), `host` / `memb` / `lobb` (how one joins a meeting),
`ign` (ignored), `rtc` (joined: WebRTC negotiation, driven by real peers elsewhere), `ref`
(a live topic refused, and none of its events given).

Driven elsewhere, with live servers and real clients: writes and read-only refusals with the
real Yjs client, sockets closed as access ends (tests/web/spaces/test_sync_auth_live.py,
tests/web/test_live_access.py); who enters a space's meeting, the lobby and a host's
admission (tests/sfu/test_space_access_live.py); publishing, subscribing, ICE candidates and
muting one's tracks by signed-in members of a space's meeting, with real Chromium
(tests/e2e/test_meeting_browser.py).
"""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from realtime.protocol import SyncStep2, SyncUpdate
from tests.support.access_matrix import read_table, table_of
from tests.support.matrix_requests import new_page
from tests.support.matrix_tasks import new_task, new_task_doc
from tests.support.matrix_world import MatrixWorld
from tests.support.socket_matrix import (
    LIVE,
    SocketCase,
    asks_for_the_document,
    asks_presence,
    greets_with,
    joins,
    leaves,
    live_case,
    live_message_kinds,
    live_opens,
    negotiates,
    opens,
    pings,
    run_socket_case,
    says,
    sends_an_auth_message,
    subscribes,
    sync_message_kinds,
    tells_presence,
    unsubscribes,
    visio_message_kinds,
    writes,
)
from tests.support.world_snapshot import InstanceState

TABLE = read_table("""
case                          own  adm  edi  com  rea  out  iad  slr  ple  ano  sgo  exp  dea  pen
# --- /sync/{doc}: the shared page's document -----------------------------------------------
open the page's document      ok   ok   ok   ok   ok   4403 4403 ok   ok   4401 4401 4401 4401 4401
open another page's document  ok   ok   ok   ok   ok   4403 4403 ok   4403 4401 4401 4401 4401 4401
sync step 1                   ok   ok   ok   ok   ok   4403 4403 ok   ok   4401 4401 4401 4401 4401
sync step 2                   ok   ok   ok   deny deny 4403 4403 deny ok   4401 4401 4401 4401 4401
sync update                   ok   ok   ok   deny deny 4403 4403 deny ok   4401 4401 4401 4401 4401
awareness                     ok   ok   ok   ok   ok   4403 4403 ok   ok   4401 4401 4401 4401 4401
query awareness               ok   ok   ok   ok   ok   4403 4403 ok   ok   4401 4401 4401 4401 4401
permission denied (server's)  1008 1008 1008 1008 1008 4403 4403 1008 1008 4401 4401 4401 4401 4401
# --- /visio/space-<id>: the space's meeting ------------------------------------------------
join the space's meeting      host host memb memb memb 4403 4403 lobb lobb 4401 4401 4401 4401 4401
raise a hand                  ok   ok   ok   ok   ok   4403 4403 1008 1008 4401 4401 4401 4401 4401
react                         ok   ok   ok   ok   ok   4403 4403 1008 1008 4401 4401 4401 4401 4401
chat                          ok   ok   ok   ok   ok   4403 4403 1008 1008 4401 4401 4401 4401 4401
pin tiles                     ok   ok   ok   ok   ok   4403 4403 1008 1008 4401 4401 4401 4401 4401
moderate                      ok   ok   1008 1008 1008 4403 4403 1008 1008 4401 4401 4401 4401 4401
leave                         ok   ok   ok   ok   ok   4403 4403 ok   ok   4401 4401 4401 4401 4401
publish                       rtc  rtc  rtc  rtc  rtc  4403 4403 1008 1008 4401 4401 4401 4401 4401
answer a subscribe offer      rtc  rtc  rtc  rtc  rtc  4403 4403 ign ign 4401 4401 4401 4401 4401
give an ICE candidate         rtc  rtc  rtc  rtc  rtc  4403 4403 ign ign 4401 4401 4401 4401 4401
mute one's track              rtc  rtc  rtc  rtc  rtc  4403 4403 1008 1008 4401 4401 4401 4401 4401
# --- /sync/{doc}: a task's description ------------------------------------------------------
open a task's description     ok   ok   ok   ok   ok   4403 4403 ok   4403 4401 4401 4401 4401 4401
edit a task's description     ok   ok   ok   deny deny 4403 4403 deny 4403 4401 4401 4401 4401 4401
# --- /visio/meet-<name>: an ad-hoc meeting -------------------------------------------------
join an ad-hoc meeting        host host host host host host host 4403 4403 4401 4401 4401 4401 4401
# --- /live: the live event stream ----------------------------------------------------------
open the live stream          ok   ok   ok   ok   ok   ok   ok   ok   ok   4401 4401 4401 4401 4401
hello: the space, replayed    ok   ok   ok   ok   ok   ref  ref  ok   ref  4401 4401 4401 4401 4401
follow the space              ok   ok   ok   ok   ok   ref  ref  ok   ref  4401 4401 4401 4401 4401
follow the shared page        ok   ok   ok   ok   ok   ref  ref  ok   ok   4401 4401 4401 4401 4401
follow another page           ok   ok   ok   ok   ok   ref  ref  ok   ref  4401 4401 4401 4401 4401
follow a task                 ok   ok   ok   ok   ok   ref  ref  ok   ref  4401 4401 4401 4401 4401
follow one's notifications    ok   ok   ok   ok   ok   ok   ok   ok   ok   4401 4401 4401 4401 4401
follow the owner's notices    ok   ref  ref  ref  ref  ref  ref  ref  ref  4401 4401 4401 4401 4401
stop following the space      ok   ok   ok   ok   ok   ok   ok   ok   ok   4401 4401 4401 4401 4401
ping                          ok   ok   ok   ok   ok   ok   ok   ok   ok   4401 4401 4401 4401 4401
""")

SYNC = "WS /sync/{doc:path}"
VISIO = "WS /visio/{room}"
CANDIDATE = "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"


async def shared_page(world: MatrixWorld) -> str:
    return f"/sync/{world.world.page.doc_name}"


async def other_page(world: MatrixWorld) -> str:
    return f"/sync/{(await new_page(world)).doc_name}"


async def meeting(world: MatrixWorld) -> str:
    return f"/visio/space-{world.space_id}"


async def ad_hoc_meeting(world: MatrixWorld) -> str:
    return "/visio/meet-matrix1"


async def task_description(world: MatrixWorld) -> str:
    """The description of a new task of the space (made by the owner)."""
    return f"/sync/{await new_task_doc(world)}"


async def the_space(world: MatrixWorld, actor: str) -> str:
    return f"space:{world.space_id}"


async def the_shared_page(world: MatrixWorld, actor: str) -> str:
    return f"item:page:{world.world.page.id}"


async def another_page(world: MatrixWorld, actor: str) -> str:
    return f"item:page:{(await new_page(world)).id}"


async def a_task(world: MatrixWorld, actor: str) -> str:
    return f"item:task:{await new_task(world)}"


async def my_notifications(world: MatrixWorld, actor: str) -> str:
    me = world.person(actor)
    return f"user:{me.id if me else 0}"  # nobody: refused before asking


async def the_owners_notifications(world: MatrixWorld, actor: str) -> str:
    return f"user:{world.owner.id}"


CASES: dict[str, SocketCase] = {
    "open the page's document": SocketCase(SYNC, "open", shared_page, opens),
    "open another page's document": SocketCase(SYNC, "open", other_page, opens),
    "sync step 1": SocketCase(SYNC, "SyncStep1", shared_page, asks_for_the_document),
    "sync step 2": SocketCase(
        SYNC, "SyncStep2", shared_page, writes(SyncStep2), {"ok": "document_updates"}
    ),
    "sync update": SocketCase(
        SYNC, "SyncUpdate", shared_page, writes(SyncUpdate), {"ok": "document_updates"}
    ),
    "awareness": SocketCase(SYNC, "AwarenessMessage", shared_page, tells_presence),
    "query awareness": SocketCase(SYNC, "QueryAwareness", shared_page, asks_presence, watched=True),
    "permission denied (server's)": SocketCase(
        SYNC, "PermissionDenied", shared_page, sends_an_auth_message
    ),
    "join the space's meeting": SocketCase(VISIO, "open", meeting, joins),
    "raise a hand": SocketCase(
        VISIO, "hand", meeting, says({"type": "hand", "raised": True}, "hand")
    ),
    "react": SocketCase(
        VISIO, "reaction", meeting, says({"type": "reaction", "emoji": "👍"}, "reaction")
    ),
    "chat": SocketCase(VISIO, "chat", meeting, says({"type": "chat", "text": "Bonjour"}, "chat")),
    "pin tiles": SocketCase(VISIO, "pin", meeting, says({"type": "pin", "participants": []}, None)),
    "moderate": SocketCase(
        VISIO, "moderate", meeting, says({"type": "moderate", "action": "mute_all"}, None)
    ),
    "leave": SocketCase(VISIO, "leave", meeting, leaves),
    "publish": SocketCase(
        VISIO, "publish", meeting, negotiates({"type": "publish", "sdp": "v=0", "tracks": []})
    ),
    "answer a subscribe offer": SocketCase(
        VISIO,
        "subscribe_answer",
        meeting,
        negotiates({"type": "subscribe_answer", "sdp": "v=0", "revision": 1}),
    ),
    "give an ICE candidate": SocketCase(
        VISIO,
        "candidate",
        meeting,
        negotiates({"type": "candidate", "pc": "publish", "candidate": CANDIDATE}),
    ),
    "mute one's track": SocketCase(
        VISIO, "mute", meeting, negotiates({"type": "mute", "track": "m0", "muted": True})
    ),
    "open a task's description": SocketCase(SYNC, "open", task_description, opens),
    "edit a task's description": SocketCase(
        SYNC, "SyncUpdate", task_description, writes(SyncUpdate), {"ok": "document_updates"}
    ),
    "join an ad-hoc meeting": SocketCase(VISIO, "open", ad_hoc_meeting, joins),
    "open the live stream": live_case("open", live_opens),
    "hello: the space, replayed": live_case("Hello", greets_with, the_space),
    "follow the space": live_case("Subscribe", subscribes, the_space),
    "follow the shared page": live_case("Subscribe", subscribes, the_shared_page),
    "follow another page": live_case("Subscribe", subscribes, another_page),
    "follow a task": live_case("Subscribe", subscribes, a_task),
    "follow one's notifications": live_case("Subscribe", subscribes, my_notifications),
    "follow the owner's notices": live_case("Subscribe", subscribes, the_owners_notifications),
    "stop following the space": live_case("Unsubscribe", unsubscribes, the_space),
    "ping": live_case("Ping", pings),
}


def test_every_socket_route_and_message_kind_has_a_line(matrix_routes: set[str]) -> None:
    sockets = {route for route in matrix_routes if table_of(route) == "sockets"}
    kinds = {(SYNC, kind) for kind in sync_message_kinds()}
    kinds |= {(VISIO, kind) for kind in visio_message_kinds()}
    kinds |= {(LIVE, kind) for kind in live_message_kinds()}
    kinds |= {(route, "open") for route in sockets}
    covered = {(case.route, case.kind) for case in CASES.values()}
    assert sorted(kinds - covered) == [], "socket routes or messages with no line"
    assert sorted(covered - kinds) == [], "lines of routes or messages the app does not have"


def test_the_table_and_the_cases_name_the_same_lines() -> None:
    assert sorted(set(TABLE) - set(CASES)) == [], "lines of the table with no case"
    assert sorted(set(CASES) - set(TABLE)) == [], "cases with no line in the table"


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", list(TABLE))
async def test_every_actor_gets_what_the_table_says(
    matrix_instance: tuple[Starlette, InstanceState], name: str
) -> None:
    app, state = matrix_instance
    seen, report = await run_socket_case(app, state, CASES[name], TABLE[name])
    assert seen == TABLE[name], "\n".join(report)
