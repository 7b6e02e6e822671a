"""The one way every WebSocket endpoint begins and ends a connection."""

from __future__ import annotations

import logging
import re

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from plumbing.websocket import SocketRefused, websocket_session

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
def client() -> TestClient:
    return TestClient(Starlette(routes=[WebSocketRoute("/ws/{name}", endpoint)]))


def closing_code(client: TestClient, path: str, *texts: str) -> tuple[int, str]:
    with client.websocket_connect(path) as ws:
        for text in texts:
            ws.send_text(text)
        with pytest.raises(WebSocketDisconnect) as ended:
            while True:
                ws.receive_text()
    return ended.value.code, ended.value.reason


def test_a_name_the_pattern_refuses_closes_with_1008(client: TestClient) -> None:
    assert closing_code(client, "/ws/NOT-OK") == (1008, "invalid thing name")


def test_a_refusal_closes_with_its_code_and_reason(client: TestClient) -> None:
    assert closing_code(client, "/ws/room", "refuse") == (4403, "no access to room")


def test_a_bug_costs_the_connection_only_and_is_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert closing_code(client, "/ws/room", "bug") == (1011, "internal error")
    assert "thing room: unexpected error" in caplog.text and "KeyError" in caplog.text
    # The application still serves the next connection.
    with client.websocket_connect("/ws/other") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "other: hello"


def test_a_session_that_ends_closes_normally(client: TestClient) -> None:
    assert closing_code(client, "/ws/room", "hi", "bye")[0] == 1000
