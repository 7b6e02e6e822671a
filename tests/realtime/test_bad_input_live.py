"""Hostile and broken frames against a live server: the offender is closed, nobody else notices."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycrdt import Doc, Text

from tests.support.servers import AtelierServer
from tests.support.yjs import YjsClients

MAX_MESSAGE = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AtelierServer]:
    data: Path = tmp_path_factory.mktemp("bad-input")
    srv = AtelierServer(
        data,
        env={
            "ATELIER_MAX_MESSAGE_BYTES": str(MAX_MESSAGE),
            "ATELIER_MAX_DOCUMENT_BYTES": str(256 * 1024),
            "ATELIER_RATE_MESSAGES": "50",
            "ATELIER_RATE_BURST": "200",
        },
    ).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def token(server: AtelierServer) -> str:
    return server.token("")


def update_message(text: str) -> bytes:
    """A sync-update message carrying a real pycrdt insert (what a JS client would send)."""
    doc = Doc()
    doc["content"] = t = Text()
    t += text
    update = doc.get_update()
    return b"\x00\x02" + _varuint(len(update)) + update


def _varuint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def presence_probe() -> tuple[bytes, bytes]:
    """An awareness message from a new client id with a unique state, and that state: the
    server sends presence back to its sender too, after whatever came before on the socket."""
    state = json.dumps({"probe": uuid.uuid4().hex}).encode()
    client_id = random.randrange(1, 2**31)
    update = _varuint(1) + _varuint(client_id) + _varuint(1) + _varuint(len(state)) + state
    return b"\x01" + _varuint(len(update)) + update, state


async def send_and_get_close(url: str, frames: list[bytes | str]) -> int | None:
    """Send frames on a raw socket; return the close code the server chose, or None when it
    kept the socket open: it then answered a probe sent after the frames, so it judged them."""
    probe, state = presence_probe()
    async with websockets.connect(url, max_size=None, open_timeout=5) as ws:
        try:
            for frame in frames:
                await ws.send(frame)
            await ws.send(probe)
            async with asyncio.timeout(10):
                async for message in ws:
                    if isinstance(message, bytes) and state in message:
                        return None
        except websockets.ConnectionClosed:
            pass
        return ws.close_code


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([b"\x07"], 1003),  # unknown message type
        ([b"\x00\x09\x00"], 1003),  # unknown sync message type
        ([b"\x00\x02\x05\x01\x02"], 1008),  # truncated update
        ([b"\x00\x02\x04\xff\xff\xff\xff"], 1008),  # update bytes that are not an update
        ([b"\x00"], 1008),  # truncated
        ([b"\x02\x00\x01x"], 1008),  # clients do not send auth messages
        (["hello"], 1003),  # text frame
        ([b"\x00\x02" + _varuint(MAX_MESSAGE + 10) + b"x" * (MAX_MESSAGE + 10)], 1009),
        ([b"\x01\x03\x01\x01\x01"], 1008),  # awareness update with a truncated state string
    ],
)
async def test_a_bad_frame_closes_only_its_connection_and_loses_nothing(
    server: AtelierServer, token: str, yjs: YjsClients, unique: str, frames: list[bytes], code: int
) -> None:
    doc = f"victim-{unique}"
    await yjs("open", client="good", url=server.sync_url, doc=doc, params={"token": token})
    await yjs("insert", client="good", text="accepted before. ")

    closed_with = await send_and_get_close(f"{server.sync_url}/{doc}?token={token}", frames)
    assert closed_with == code

    await yjs("insert", client="good", text="accepted after.")
    await yjs("open", client="fresh", url=server.sync_url, doc=doc, params={"token": token})
    await yjs("wait_text", client="fresh", text="accepted before. accepted after.")
    assert httpx.get(f"{server.http_url}/healthz").status_code == 200


async def test_a_document_may_not_grow_past_its_limit(
    server: AtelierServer, token: str, yjs: YjsClients, unique: str
) -> None:
    doc = f"big-{unique}"
    await yjs("open", client="good", url=server.sync_url, doc=doc, params={"token": token})
    await yjs("insert", client="good", text="kept")
    codes = []
    for i in range(6):  # 6 × 60 kB of new text > the 256 kB document limit
        chunk = update_message(str(i) * 60_000)
        codes.append(await send_and_get_close(f"{server.sync_url}/{doc}?token={token}", [chunk]))
    assert codes[:4] == [None] * 4 and codes[-1] == 1009
    await yjs("open", client="fresh", url=server.sync_url, doc=doc, params={"token": token})
    assert "kept" in (await yjs("text", client="fresh"))["text"]


async def test_a_flooding_client_is_closed_and_the_room_carries_on(
    server: AtelierServer, token: str, yjs: YjsClients, unique: str
) -> None:
    doc = f"flood-{unique}"
    await yjs("open", client="good", url=server.sync_url, doc=doc, params={"token": token})
    query = b"\x03"  # query-awareness: cheap, valid, and answered
    code = await send_and_get_close(f"{server.sync_url}/{doc}?token={token}", [query] * 2000)
    assert code == 1008
    await yjs("insert", client="good", text="still here")
    await yjs("open", client="fresh", url=server.sync_url, doc=doc, params={"token": token})
    await yjs("wait_text", client="fresh", text="still here")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    frames=st.lists(
        st.one_of(
            st.binary(max_size=64),
            st.builds(lambda b: b"\x00" + b, st.binary(max_size=40)),
            st.builds(lambda b: b"\x01" + b, st.binary(max_size=40)),
            st.builds(lambda b: b"\x00\x02" + b, st.binary(max_size=40)),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_fuzzed_frames_never_take_the_server_down(
    server: AtelierServer, token: str, frames: list[bytes]
) -> None:
    url = f"{server.sync_url}/fuzz?token={token}"
    asyncio.run(send_and_get_close(url, list(frames)))
    assert server.process is not None and server.process.poll() is None
    assert httpx.get(f"{server.http_url}/healthz", timeout=5).status_code == 200


def hostile_frames(seed: int, count: int) -> list[list[bytes]]:
    """`count` lists of frames shaped like the fuzz test's (random bytes, alone or after a sync,
    awareness or update header), the same for a given seed."""
    rng = random.Random(seed)
    prefixes = [b"", b"\x00", b"\x01", b"\x00\x02"]
    return [
        [
            rng.choice(prefixes) + rng.randbytes(rng.randrange(41))
            for _ in range(rng.randrange(1, 5))
        ]
        for _ in range(count)
    ]


async def test_the_fuzzed_document_still_syncs_afterwards(
    server: AtelierServer, token: str, yjs: YjsClients, unique: str
) -> None:
    doc = f"fuzz-{unique}"
    await yjs("open", client="a", url=server.sync_url, doc=doc, params={"token": token})
    await yjs("insert", client="a", text="before the storm. ")
    for frames in hostile_frames(seed=20, count=40):
        await send_and_get_close(f"{server.sync_url}/{doc}?token={token}", list(frames))
    await yjs("insert", client="a", text="after the storm")
    await yjs("open", client="b", url=server.sync_url, doc=doc, params={"token": token})
    await yjs("wait_contains", client="b", text="before the storm. after the storm")
    await yjs("insert", client="b", index=0, text="b: ")
    await yjs("wait_contains", client="a", text="b: before the storm.")
