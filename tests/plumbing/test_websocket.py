"""The one way every WebSocket endpoint begins and ends a connection."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator

import pytest
import uvicorn
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from plumbing.websocket import SocketRefused, websocket_session
from tests.support.ports import free_port

log = logging.getLogger("test.websocket")


async def session(websocket: WebSocket, name: str) -> None:
    """Echo until "bye"; "refuse" and "bug" end the session the two other ways."""
    while True:
        text = await websocket.receive_text()
        if text == "refuse":
            raise SocketRefused(4403, f"no access to {name}")
        if text == "bug":
            raise KeyError("a bug in the session")
        if text == "bye":
            return
        await websocket.send_text(f"{name}: {text}")


async def endpoint(websocket: WebSocket) -> None:
    await websocket_session(
        websocket,
        name="name",
        pattern=re.compile(r"^[a-z]+$"),
        what="thing",
        session=session,
        log=log,
    )


@pytest.fixture
async def url() -> AsyncIterator[str]:
    """The endpoint served by a real uvicorn on loopback."""
    port = free_port()
    app = Starlette(routes=[WebSocketRoute("/ws/{name}", endpoint)])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"ws://127.0.0.1:{port}/ws"
    server.should_exit = True
    await task


async def closing(url: str, *texts: str) -> tuple[int, str]:
    """Connect, send `texts`, read until the server closes: its code and reason."""
    async with websockets.connect(url) as ws:
        for text in texts:
            await ws.send(text)
        with pytest.raises(websockets.ConnectionClosed) as ended:
            while True:
                await ws.recv()
    assert ended.value.rcvd is not None
    return ended.value.rcvd.code, ended.value.rcvd.reason


async def test_a_name_the_pattern_refuses_closes_with_1008(url: str) -> None:
    assert await closing(f"{url}/NOT-OK") == (1008, "invalid thing name")


async def test_a_refusal_closes_with_its_code_and_reason(url: str) -> None:
    assert await closing(f"{url}/room", "refuse") == (4403, "no access to room")


async def test_a_bug_costs_the_connection_only_and_is_logged(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert await closing(f"{url}/room", "bug") == (1011, "internal error")
    assert "thing room: unexpected error" in caplog.text and "KeyError" in caplog.text
    # The server still serves the next connection.
    async with websockets.connect(f"{url}/other") as ws:
        await ws.send("hello")
        assert await ws.recv() == "other: hello"


async def test_a_session_that_ends_closes_normally(url: str) -> None:
    assert (await closing(f"{url}/room", "hi", "bye"))[0] == 1000
