"""Presence against a live `atelier serve`, with the real y-protocols client under node.

A presence (awareness) client id belongs to the connection that announced it: nobody else may
change or remove it, and one connection's presence is bounded, so a flood of it closes only
that connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import AtelierServer
from tests.support.yjs import YjsClients


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AtelierServer]:
    """One server for the module (default limits); each test has its own document."""
    data: Path = tmp_path_factory.mktemp("presence")
    srv = AtelierServer(data).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def editor_token(server: AtelierServer) -> str:
    return server.token("")


@pytest.fixture(scope="module")
def reader_token(server: AtelierServer) -> str:
    return server.token("", access="ro")


ALICE = {"user": {"name": "Alice Admin", "color": "#36c"}}


def names(peers: list[dict[str, Any]]) -> dict[int, str | None]:
    """Client id -> the user name its presence shows (None: a presence without a name)."""
    return {peer["id"]: peer["state"].get("user", {}).get("name") for peer in peers}


@pytest.mark.parametrize("forgery", [{"user": {"name": "Mallory was here"}}, None])
async def test_a_reader_cannot_replace_or_remove_an_editors_presence(
    server: AtelierServer,
    editor_token: str,
    reader_token: str,
    yjs: YjsClients,
    unique: str,
    forgery: dict[str, Any] | None,
) -> None:
    doc = f"presence-{unique}"
    for client, token in [("alice", editor_token), ("carol", editor_token)]:
        await yjs("open", client=client, url=server.sync_url, doc=doc, params={"token": token})
    await yjs("open", client="reader", url=server.sync_url, doc=doc, params={"token": reader_token})
    alice = (await yjs("client_id", client="alice"))["client_id"]
    reader = (await yjs("client_id", client="reader"))["client_id"]
    await yjs("awareness", client="alice", state=ALICE)
    # A reader watching the document shows up too: its own presence is its to announce.
    await yjs("awareness", client="reader", state={"user": {"name": "lecteur"}})
    await yjs("wait_peer_name", client="carol", peer=alice, name="Alice Admin")
    await yjs("wait_peer_name", client="carol", peer=reader, name="lecteur")
    await yjs("wait_peer_name", client="reader", peer=alice, name="Alice Admin")

    await yjs("forge_awareness", client="reader", peer=alice, state=forgery)
    # The server handles one connection's messages in order: once Carol sees the reader's
    # next change, the forgery before it has been handled too.
    await yjs("awareness", client="reader", state={"user": {"name": "lecteur, plus tard"}})
    peers = await yjs("wait_peer_name", client="carol", peer=reader, name="lecteur, plus tard")
    assert names(peers["peers"])[alice] == "Alice Admin"
    assert (await yjs("local_state", client="alice"))["state"] == ALICE
    assert alice not in (await yjs("events", client="carol"))["presenceRemoved"]
    # A newcomer sees the same.
    await yjs("open", client="dave", url=server.sync_url, doc=doc, params={"token": editor_token})
    peers = await yjs("wait_peer_name", client="dave", peer=reader, name="lecteur, plus tard")
    assert names(peers["peers"])[alice] == "Alice Admin"


FLOODS = {
    # 40 messages of ~3.6 MiB, each 56 fresh client ids with a 64 KiB state.
    "large states under fresh ids": ({"messages": 40, "ids": 56, "bytes": 64_000}, 1009),
    # 40 messages of 200 fresh client ids with a 1 KiB state each.
    "many fresh ids": ({"messages": 40, "ids": 200, "bytes": 1_000}, 1008),
    # The connection's own id renewed 200 times with a 12 KiB state (2.4 MB for everyone;
    # few enough messages for the per-connection message rate limit to let them through).
    "one id renewed without pause": (
        {"messages": 200, "ids": 1, "bytes": 12_000, "fresh": False},
        1008,
    ),
}


@pytest.mark.parametrize("flood", list(FLOODS))
async def test_an_awareness_flood_closes_only_the_flooder_and_everyone_else_carries_on(
    server: AtelierServer, editor_token: str, yjs: YjsClients, unique: str, flood: str
) -> None:
    doc = f"flood-{unique}"
    token = editor_token
    for client in ("writer", "watcher", "flooder"):
        await yjs("open", client=client, url=server.sync_url, doc=doc, params={"token": token})
    writer = (await yjs("client_id", client="writer"))["client_id"]
    await yjs("awareness", client="writer", state={"user": {"name": "Wanda"}})
    await yjs("awareness", client="flooder", state={"user": {"name": "Fred"}})
    await yjs("wait_peer_name", client="watcher", peer=writer, name="Wanda")
    await yjs("wait_peer_name", client="flooder", peer=writer, name="Wanda")

    shape, code = FLOODS[flood]
    await yjs("flood_awareness", client="flooder", timeout=60, **shape)
    closes = (await yjs("wait_closed", client="flooder", timeout=30))["closes"]
    assert closes[0]["code"] == code, closes

    await yjs("insert", client="writer", text="still typing")
    await yjs("wait_text", client="watcher", text="still typing")
    for client in ("writer", "watcher"):
        events = await yjs("events", client=client)
        assert events["closes"] == [] and events["connected"], (client, events)
    # Wanda's presence is still there, and no flooded state was left behind for a newcomer.
    await yjs("open", client="newcomer", url=server.sync_url, doc=doc, params={"token": token})
    seen = names(
        (await yjs("wait_peer_name", client="newcomer", peer=writer, name="Wanda"))["peers"]
    )
    assert not any((name or "").startswith("flood") for name in seen.values()), seen
