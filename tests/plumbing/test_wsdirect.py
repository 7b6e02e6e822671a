"""The direct WebSocket path (plumbing/wsdirect.py) under a real uvicorn, with real clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

import pytest
import uvicorn
import websockets
from websockets.frames import Frame, Opcode

from plumbing.wsdirect import DirectWebSocketProtocol
from plumbing.wsframe import DIRECT_EXTENSION, DirectSocket, binary_frame
from tests.support.ports import free_port
from tests.support.waiting import eventually

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[DirectSocket, Receive, Send], Awaitable[None]]


class QuickClose(DirectWebSocketProtocol):
    """Gives up on a client that does not answer a close within half a second, and counts
    the bytes it reads, so that a test knows when the server has read a write."""

    opened: ClassVar[list[QuickClose]] = []  # this test server's connections (`serve` empties it)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_timeout = 0.5
        self.bytes_read = 0
        QuickClose.opened.append(self)

    def data_received(self, data: bytes) -> None:
        self.bytes_read += len(data)
        super().data_received(data)


async def until_the_server_has_read(count: int) -> None:
    """Wait until the server's connections have read `count` bytes in all: a write after
    that arrives in a read of its own."""
    await eventually(
        lambda: sum(c.bytes_read for c in QuickClose.opened) >= count, what=f"{count} bytes read"
    )


@contextlib.asynccontextmanager
async def serve(handler: Handler, log_level: str = "warning") -> AsyncIterator[str]:
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

    QuickClose.opened.clear()
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws=QuickClose, log_level=log_level, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, what="uvicorn to start")
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
    sent = asyncio.Event()

    async def echo(direct: DirectSocket, receive: Receive, send: Send) -> None:
        # The client has sent its first messages, and uvicorn, holding the first one in its
        # queue, has stopped reading: they wait there.
        await sent.wait()
        await eventually(lambda: QuickClose.opened[0].read_paused, what="uvicorn to pause")

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
        sent.set()
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
        transport = direct.transport
        await eventually(
            lambda: transport.is_closing() and not transport.get_write_buffer_size(),
            what="the socket to be dropped",
        )
        ended.set()

    async with serve(flood) as url:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        raw = socket.create_connection(("127.0.0.1", port))
        try:
            raw.sendall(HANDSHAKE)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            # ... and never read again.
            await asyncio.wait_for(ended.wait(), timeout=20)
        finally:
            raw.close()
    assert backlog and backlog[0] >= 4 * 2**20


def client_frame(
    payload: bytes, *, opcode: int = 0x2, fin: bool = True, mask: bool = True
) -> bytes:
    """A client frame as a browser would send it (masked)."""
    return Frame(Opcode(opcode), payload, fin=fin).serialize(mask=mask, extensions=[])


HANDSHAKE = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


class RawClient:
    """A WebSocket client on a plain socket, so a test chooses how bytes are cut into writes."""

    def __init__(self, url: str) -> None:
        port = int(url.rsplit(":", 1)[1].strip("/"))
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(HANDSHAKE)
        self.sent = len(HANDSHAKE)
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self.sock.recv(4096)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101")

    async def write(self, data: bytes) -> None:
        """One write of `data`, read by the server on its own: it has read all before."""
        await until_the_server_has_read(self.sent)
        await asyncio.to_thread(self.sock.sendall, data)
        self.sent += len(data)

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def frame(self) -> tuple[int, bytes]:
        """The next frame from the server: (opcode, payload)."""
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(self._read(2), "big")
        elif length == 127:
            length = int.from_bytes(self._read(8), "big")
        return first & 0x0F, self._read(length)


async def echo_handler(direct: DirectSocket, receive: Receive, send: Send) -> None:
    def on_message(data: bytes | None) -> None:
        direct.transport.write(binary_frame(b"echo " + (data if data is not None else b"?")))

    direct.set_receiver(on_message)
    await receive()


async def test_frames_cut_or_joined_any_way_reach_the_receiver_whole_and_in_order() -> None:
    big = bytes(range(256)) * 300  # 76,800 bytes: a 64-bit length
    medium = b"m" * 1000  # a 16-bit length
    async with serve(echo_handler) as url:
        client = await asyncio.to_thread(RawClient, url)
        sock = client.sock
        # One frame per write, then a frame cut in two writes, then three frames in one write.
        await client.write(client_frame(b"one"))
        cut = client_frame(medium)
        await client.write(cut[:7])
        await client.write(cut[7:])
        await client.write(client_frame(b"a") + client_frame(big) + client_frame(b"b"))
        # A message in three fragments with a ping in the middle, each its own write.
        for part in (
            client_frame(b"frag", fin=False),
            client_frame(b"ping!", opcode=0x9),
            client_frame(b"men", opcode=0x0, fin=False),
            client_frame(b"ted", opcode=0x0),
        ):
            await client.write(part)
        await client.write(client_frame(b"last"))
        frames = [await asyncio.to_thread(client.frame) for _ in range(8)]
        sock.close()
    assert frames == [
        (0x2, b"echo one"),
        (0x2, b"echo " + medium),
        (0x2, b"echo a"),
        (0x2, b"echo " + big),
        (0x2, b"echo b"),
        (0xA, b"ping!"),
        (0x2, b"echo fragmented"),
        (0x2, b"echo last"),
    ]


async def test_an_unmasked_frame_is_refused_as_websockets_would() -> None:
    async with serve(echo_handler) as url:
        client = await asyncio.to_thread(RawClient, url)
        await asyncio.to_thread(client.sock.sendall, client_frame(b"bare", mask=False))
        opcode, payload = await asyncio.to_thread(client.frame)
        client.sock.close()
    assert opcode == 0x8 and int.from_bytes(payload[:2], "big") == 1002  # protocol error


async def test_each_socket_is_logged_once_at_info() -> None:
    """uvicorn's "[accepted]" line stays; websockets' open/closed lines go to DEBUG."""
    lines: list[tuple[int, str]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append((record.levelno, record.getMessage()))

    keep = Keep(logging.DEBUG)
    logger = logging.getLogger("uvicorn.error")
    async with serve(echo_handler, log_level="info") as url:
        logger.addHandler(keep)  # after uvicorn configured its loggers
        try:
            for _ in range(2):
                async with websockets.connect(url) as client:
                    await client.send(b"hello")
                    assert await client.recv() == b"echo hello"
            # Whatever the server logs of a socket is logged once it has lost the connection.
            await eventually(
                lambda: all(c.disconnected for c in QuickClose.opened), what="the server's closes"
            )
        finally:
            logger.removeHandler(keep)
    at_info = [text for level, text in lines if level >= logging.INFO]
    assert sum("[accepted]" in text for text in at_info) == 2
    assert not [text for text in at_info if "connection open" in text or "closed" in text]


def test_atelier_serve_runs_the_direct_protocol() -> None:
    from uvicorn.importer import import_from_string

    from web.cli import WS_PROTOCOL

    assert import_from_string(WS_PROTOCOL) is DirectWebSocketProtocol
