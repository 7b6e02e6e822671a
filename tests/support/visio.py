"""Meetings on a live server: media kept on loopback, the `/visio` address, how a socket ends,
and a bot's first answer."""

from __future__ import annotations

from typing import Any

import pytest
import websockets

from tests.support.servers import AtelierServer

# Media stays on this machine: ICE host candidates on 127.0.0.1 only, no STUN/TURN server.
LOOPBACK_ENV = {"ATELIER_VISIO_HOST_ADDRESSES": "127.0.0.1", "ATELIER_VISIO_ICE_SERVERS": ""}


def visio_url(server: AtelierServer, room: str, token: str = "", name: str = "") -> str:
    """The meeting socket of `room`, with a document token and a display name if given."""
    url = f"ws://127.0.0.1:{server.port}/visio/{room}"
    query = "&".join(f"{k}={v}" for k, v in (("token", token), ("name", name)) if v)
    return f"{url}?{query}" if query else url


async def close_of(url: str, send: str | None = None) -> tuple[int, str]:
    """How the server closes a meeting socket (after one message `send` if given)."""
    async with websockets.connect(url) as ws:
        if send is not None:
            await ws.recv()  # welcome
            await ws.send(send)
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await ws.recv()
        assert ws.close_code is not None
        return ws.close_code, ws.close_reason or ""


async def arrive(bot: Any) -> str | int:
    """A meeting bot's first answer: its role ("host", "member"), "lobby", or the close code."""
    await bot.wait_for(lambda: bot.messages or bot.closed)
    if bot.closed:
        return bot.closed[0]
    first = bot.messages[0]
    return str(first.fields["role"]) if first.type == "welcome" else first.type
