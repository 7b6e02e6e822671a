"""The stock Yjs client (yjs + y-websocket under node) against a live `atelier serve`."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable

import httpx
import pytest

from tests.support.servers import ATELIER, ROOT, AtelierServer
from tests.support.waiting import eventually
from tests.support.yjs import YjsClients
from web.auth.tokens import load_secret_key, mint_document_token
from web.config import SETTINGS

Start = Callable[..., AtelierServer]


async def test_concurrent_edits_from_three_clients_converge(
    atelier: Start, yjs: YjsClients, unique: str
) -> None:
    server = atelier()
    token = server.token("notes-")
    doc = f"notes-{unique}"
    for name in "abc":
        await yjs("open", client=name, url=server.sync_url, doc=doc, params={"token": token})
    # Everyone types at once, several times, without waiting for the others.
    await asyncio.gather(
        *(
            yjs("insert", client=name, index=0, text=f"<{name}{i}>")
            for i in range(20)
            for name in "abc"
        )
    )
    for name in "abc":
        for other in "abc":
            await yjs("wait_contains", client=name, text=f"<{other}19>")
    texts = {name: (await yjs("text", client=name))["text"] for name in "abc"}
    assert texts["a"] == texts["b"] == texts["c"]
    assert len(texts["a"]) == 3 * 20 * len("<a0>") + 3 * 10


async def test_edits_made_while_disconnected_merge_on_reconnect(
    atelier: Start, yjs: YjsClients, unique: str
) -> None:
    server = atelier()
    token = server.token("")
    doc = f"offline-{unique}"
    for name in ("a", "b", "watcher"):
        await yjs("open", client=name, url=server.sync_url, doc=doc, params={"token": token})
    await yjs("insert", client="a", text="shared. ")
    await yjs("wait_text", client="b", text="shared. ")

    await yjs("disconnect", client="b")
    await yjs("insert", client="b", text="written offline. ")
    await yjs("insert", client="a", text="written online. ")
    # The watcher gets a's later edit: b's, had it been sent, would have come first.
    await yjs("wait_contains", client="watcher", text="written online.")
    for name in ("watcher", "a"):
        assert "written offline" not in (await yjs("text", client=name))["text"]

    await yjs("connect", client="b")
    merged = (await yjs("wait_contains", client="a", text="written offline."))["text"]
    assert "written online." in merged
    await yjs("wait_text", client="b", text=merged)


async def test_presence_appears_and_disappears_when_a_client_leaves(
    atelier: Start, yjs: YjsClients, unique: str
) -> None:
    server = atelier()
    token = server.token("")
    doc = f"presence-{unique}"
    await yjs("open", client="a", url=server.sync_url, doc=doc, params={"token": token})
    await yjs("open", client="b", url=server.sync_url, doc=doc, params={"token": token})
    await yjs("awareness", client="b", state={"user": {"name": "Bérénice", "color": "#c00"}})
    peers = (await yjs("wait_peers", client="a", count=1))["peers"]
    assert peers[0]["state"]["user"]["name"] == "Bérénice"
    await yjs("close", client="b")
    await yjs("wait_peers", client="a", count=0)


async def test_read_only_client_syncs_and_shows_presence_but_cannot_write(
    atelier: Start, yjs: YjsClients, unique: str
) -> None:
    server = atelier()
    doc = f"ro-{unique}"
    await yjs(
        "open", client="writer", url=server.sync_url, doc=doc, params={"token": server.token("ro-")}
    )
    await yjs("insert", client="writer", text="official text")
    await yjs(
        "open",
        client="reader",
        url=server.sync_url,
        doc=doc,
        params={"token": server.token("ro-", access="ro")},
    )
    await yjs("wait_text", client="reader", text="official text")

    await yjs("awareness", client="reader", state={"user": {"name": "lecteur"}})
    await yjs("wait_peers", client="writer", count=1)

    await yjs("insert", client="reader", index=0, text="VANDALISM ")
    assert "read-only" in (await yjs("wait_denied", client="reader"))["denied"][0]
    # The reader's next message (its presence) reaches the writer: the refused edit, sent
    # before it on the same socket, would have reached the writer first.
    reader_id = (await yjs("client_id", client="reader"))["client_id"]
    await yjs("awareness", client="reader", state={"user": {"name": "lecteur, ensuite"}})
    await yjs("wait_peer_name", client="writer", peer=reader_id, name="lecteur, ensuite")
    assert (await yjs("text", client="writer"))["text"] == "official text"
    await yjs("insert", client="writer", text=" and more")
    await yjs("wait_contains", client="reader", text="and more")
    assert (await yjs("text", client="writer"))["text"] == "official text and more"

    # Nor was it stored: a fresh client after a restart sees only the writer's text.
    await yjs("close", client="reader")
    await yjs("close", client="writer")
    server.restart()
    await yjs(
        "open", client="later", url=server.sync_url, doc=doc, params={"token": server.token("ro-")}
    )
    assert (await yjs("text", client="later"))["text"] == "official text and more"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, 4401),
        ({"token": "not-a-token"}, 4401),
        ("other-prefix", 4403),
    ],
)
async def test_missing_bad_or_foreign_credentials_are_refused(
    atelier: Start, yjs: YjsClients, unique: str, params: object, code: int
) -> None:
    server = atelier()
    if params == "other-prefix":
        params = {"token": server.token("someone-else-")}
    closes = (
        await yjs(
            "open",
            client="x",
            url=server.sync_url,
            doc=f"secret-{unique}",
            params=params,
            wait="closed",
        )
    )["closes"]
    assert closes[0]["code"] == code
    # 44xx is terminal for the stock client: it gives the connection up (no reconnection is
    # scheduled, so no reconnection storm).
    events = await yjs("events", client="x")
    assert events["shouldConnect"] is False
    assert len(events["closes"]) == 1


async def test_an_expired_token_is_refused(atelier: Start, yjs: YjsClients, unique: str) -> None:
    server = atelier()
    secret = load_secret_key("", server.data_dir)  # `atelier serve` made it in its data folder

    def token(issued_ago: float) -> str:
        # Time is set by the token's issue date, not waited for: valid for a minute, from then.
        now = time.time() - issued_ago
        return mint_document_token(secret, prefix="", writable=True, ttl=60, now=now)

    doc, url = f"d-{unique}", server.sync_url
    await yjs("open", client="on-time", url=url, doc=doc, params={"token": token(0)})
    closes = (
        await yjs("open", client="x", url=url, doc=doc, params={"token": token(120)}, wait="closed")
    )["closes"]
    assert closes[0]["code"] == 4401 and "expired" in closes[0]["reason"]


async def _write_fifty_lines(server: AtelierServer, yjs: YjsClients, doc: str, token: str) -> str:
    """Fifty edits from one client, until a second one has them all: the server applied them."""
    await yjs("open", client="a", url=server.sync_url, doc=doc, params={"token": token})
    await yjs("open", client="w", url=server.sync_url, doc=doc, params={"token": token})
    expected = "".join(f"line {i}\n" for i in range(50))
    for i in range(50):
        await yjs("insert", client="a", text=f"line {i}\n")
    await yjs("wait_text", client="w", text=expected)
    return expected


async def _read_back(server: AtelierServer, yjs: YjsClients, doc: str, token: str) -> str:
    await yjs("open", client="b", url=server.sync_url, doc=doc, params={"token": token})
    return str((await yjs("text", client="b"))["text"])


async def test_a_document_survives_a_restart_right_after_the_last_edit(
    atelier: Start, yjs: YjsClients, unique: str
) -> None:
    server = atelier()
    token, doc = server.token(""), f"durable-{unique}"
    expected = await _write_fifty_lines(server, yjs, doc, token)
    server.stop()  # at once: a graceful stop commits what is pending
    server.start()
    assert await _read_back(server, yjs, doc, token) == expected


async def test_a_kill_after_the_commit_interval_loses_nothing(
    atelier: Start, yjs: YjsClients, unique: str
) -> None:
    """The documented bound (docs/settings.md): an update is durable within the commit interval
    plus the commit's own time. The kill comes right after that, timed from the moment a second
    client saw the last edit (so the server had it) and widened only by what the server itself
    reports of its commits' duration and by how long it takes to answer: a slipped interval
    loses edits here, a slow machine does not."""
    server = atelier()
    token, doc = server.token(""), f"durable-{unique}"
    (documented,) = (s.default for s in SETTINGS if s.name == "ATELIER_COMMIT_INTERVAL_MS")
    interval = float(documented) / 1000
    expected = await _write_fifty_lines(server, yjs, doc, token)
    seen = time.monotonic()
    asked = time.monotonic()
    health = httpx.get(f"{server.http_url}/healthz", timeout=5).json()
    answer = time.monotonic() - asked
    commit = health["store"]["slowest_recent_commit_ms"] / 1000
    time.sleep(max(0.0, seen + interval + commit + answer + 0.02 - time.monotonic()))
    server.kill()
    server.start()
    assert await _read_back(server, yjs, doc, token) == expected


async def test_token_minted_in_the_checkout_works_with_the_server_started_from_it(
    tmp_path: object, yjs: YjsClients, unique: str, atelier: Start
) -> None:
    server = atelier()
    out = subprocess.run(
        [*ATELIER, "token", "--docs", "team-", "--access", "rw", "--name", "bot"],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    token = out[-1]
    assert " " not in token and len(token) > 20
    await yjs(
        "open", client="bot", url=server.sync_url, doc=f"team-{unique}", params={"token": token}
    )


def test_several_workers_without_redis_refuse_to_start_and_say_why(tmp_path: object) -> None:
    server = AtelierServer(tmp_path / "data")  # type: ignore[operator]
    result = subprocess.run(
        [*ATELIER, "serve", "--port", str(server.port), "--workers", "2"],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert "REDIS_URL" in result.stderr and "workers" in result.stderr


async def test_healthz_answers_once_ready(atelier: Start) -> None:
    import httpx

    server = atelier()
    response = httpx.get(f"{server.http_url}/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


async def test_with_postgresql_a_document_survives_a_kill(
    atelier: Start, yjs: YjsClients, unique: str, postgres_database: str
) -> None:
    server = atelier(DATABASE_URL=postgres_database)
    token = server.token("")
    doc = f"pg-{unique}"
    await yjs("open", client="a", url=server.sync_url, doc=doc, params={"token": token})
    for i in range(20):
        await yjs("insert", client="a", text=f"{i} ")
    await yjs("open", client="w", url=server.sync_url, doc=doc, params={"token": token})
    await yjs("wait_text", client="w", text="".join(f"{i} " for i in range(20)))  # it has them
    await eventually(lambda: server.health()["store"]["updates_pending"] == 0, what="a commit")
    await yjs("close", client="a")
    server.kill()
    server.start()
    await yjs("open", client="b", url=server.sync_url, doc=doc, params={"token": token})
    assert (await yjs("text", client="b"))["text"] == "".join(f"{i} " for i in range(20))


async def test_a_client_too_slow_to_read_is_dropped_and_the_room_carries_on(
    atelier: Start, yjs: YjsClients, unique: str
) -> None:
    import websockets

    server = atelier(ATELIER_SEND_BUFFER_BYTES="65536")
    token = server.token("")
    doc = f"slow-{unique}"
    url = f"{server.sync_url}/{doc}?token={token}"
    await yjs("open", client="writer", url=server.sync_url, doc=doc, params={"token": token})
    await yjs("open", client="reader", url=server.sync_url, doc=doc, params={"token": token})
    # A raw client that stops reading: its library buffers one frame, then TCP fills up.
    async with websockets.connect(url, max_queue=1, max_size=None) as slow:
        chunk = "z" * 20_000
        for i in range(300):
            await yjs("insert", client="writer", text=f"{i}{chunk}")
        await yjs("wait_contains", client="reader", text=f"299{chunk[:10]}", timeout=30)
        # Now read what the server sent the slow client: it ends with a 1013 close.
        with_code = None
        try:
            async for _ in slow:
                pass
        except websockets.ConnectionClosed as closed:
            with_code = closed.rcvd.code if closed.rcvd else None
        with_code = with_code or slow.close_code
    assert with_code == 1013
    text = (await yjs("text", client="writer"))["text"]
    await yjs("wait_text", client="reader", text=text)


async def test_the_token_a_client_connects_with_never_reaches_the_server_log(
    atelier: Start, yjs: YjsClients, unique: str
) -> None:
    server = atelier(ATELIER_LOG_LEVEL="info")
    token = server.token("")
    await yjs("open", client="a", url=server.sync_url, doc=f"log-{unique}", params={"token": token})
    await yjs("insert", client="a", text="hello")
    await yjs("close", client="a")
    # The server is done with that socket (and whatever it logs of it) once the document's
    # room, idle, is unloaded.
    await eventually(lambda: server.health()["documents_loaded"] == 0, what="the room to unload")
    log = server.log_path.read_text(errors="replace")
    assert f"/sync/log-{unique}" in log  # the socket was logged...
    assert token not in log and token.split(".")[-1] not in log  # ...without its credential
