"""The direct WebSocket path (realtime/wsdirect.py) under a real uvicorn, with real clients."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn
import websockets
from websockets.frames import Frame, Opcode

from realtime.wsdirect import DirectWebSocketProtocol
from realtime.wsframe import DIRECT_EXTENSION, DirectSocket, binary_frame
from tests.support import free_port

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[DirectSocket, Receive, Send], Awaitable[None]]


class QuickClose(DirectWebSocketProtocol):
    """Gives up on a client that does not answer a close within half a second."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_timeout = 0.5


@contextlib.asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[str]:
    """A uvicorn server on loopback running `handler` for every WebSocket."""

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        assert scope["type"] == "websocket"
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await handler(scope["extensions"][DIRECT_EXTENSION], receive, send)

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws=QuickClose, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await task


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_a_frame_is_what_websockets_itself_would_send(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    expected = Frame(Opcode.BINARY, payload).serialize(mask=False, extensions=[])
    assert binary_frame(payload) == expected


async def test_messages_sent_before_the_receiver_is_set_arrive_first_and_in_order() -> None:
    async def echo(direct: DirectSocket, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0.3)  # the client's first messages wait in uvicorn's queue

        def on_message(data: bytes | None) -> None:
            if data is None:
                direct.close_now(1003, "binary only")
            else:
                direct.transport.write(binary_frame(b"echo " + data))

        direct.set_receiver(on_message)
        assert (await receive())["type"] == "websocket.disconnect"

    async with serve(echo) as url, websockets.connect(url) as client:
        for i in range(5):
            await client.send(f"m{i}".encode())
        assert [await client.recv() for _ in range(5)] == [f"echo m{i}".encode() for i in range(5)]
        await client.send(b"later")
        assert await client.recv() == b"echo later"
        await client.send("text")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await client.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1003, "binary only")


async def test_a_failing_receiver_closes_only_its_own_connection_with_1011() -> None:
    async def fragile(direct: DirectSocket, receive: Receive, send: Send) -> None:
        def on_message(data: bytes | None) -> None:
            if data == b"boom":
                raise RuntimeError("a bug")
            direct.transport.write(binary_frame(data or b""))

        direct.set_receiver(on_message)
        assert (await receive())["type"] == "websocket.disconnect"

    async with serve(fragile) as url:
        async with websockets.connect(url) as bystander, websockets.connect(url) as victim:
            await victim.send(b"boom")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await victim.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
            await bystander.send(b"still here")
            assert await bystander.recv() == b"still here"


async def test_a_client_that_stops_reading_is_cut_off_after_the_close_timeout() -> None:
    ended = asyncio.Event()
    backlog: list[int] = []

    async def flood(direct: DirectSocket, receive: Receive, send: Send) -> None:
        direct.set_receiver(lambda data: None)
        chunk = binary_frame(b"x" * 65536)
        while direct.transport.get_write_buffer_size() < 4 * 2**20:
            direct.transport.write(chunk)
            await asyncio.sleep(0)
        backlog.append(direct.transport.get_write_buffer_size())
        direct.close_now(1013, "too slow")
        assert direct.closing
        assert (await receive())["type"] == "websocket.disconnect"
        # The socket is dropped although the client never read its backlog.
        while not direct.transport.is_closing() or direct.transport.get_write_buffer_size():
            await asyncio.sleep(0.05)
        ended.set()

    async with serve(flood) as url:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        raw = socket.create_connection(("127.0.0.1", port))
        try:
            raw.sendall(
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                b"Sec-WebSocket-Version: 13\r\n\r\n"
            )
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            # ... and never read again.
            await asyncio.wait_for(ended.wait(), timeout=20)
        finally:
            raw.close()
    assert backlog and backlog[0] >= 4 * 2**20


def test_atelier_serve_runs_the_direct_protocol() -> None:
    from uvicorn.importer import import_from_string

    from web.cli import WS_PROTOCOL

    assert import_from_string(WS_PROTOCOL) is DirectWebSocketProtocol
