"""Server WebSocket frames built once and written straight to sockets (RFC 6455 §5.2).

A server's frames are not masked, so the bytes of one binary frame are the same for every
client: a broadcast builds the frame once and hands the same bytes object to each socket.
`DirectSocket` is what a server connection offers for that (see `plumbing.wsdirect`); without
it (another ASGI server, the test client) connections fall back to ASGI `send`.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Protocol

DIRECT_EXTENSION = "atelier.direct"

_BINARY_FIN = 0x82
_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


def binary_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked binary frame carrying `payload`."""
    size = len(payload)
    if size < 126:
        return _SHORT.pack(_BINARY_FIN, size) + payload
    if size < 65536:
        return _MEDIUM.pack(_BINARY_FIN, 126, size) + payload
    return _LONG.pack(_BINARY_FIN, 127, size) + payload


# A message as the client sent it: bytes for a binary message, None for a text message.
Receiver = Callable[[bytes | None], None]


class DirectSocket(Protocol):
    """A WebSocket the application writes frames to and gets messages from synchronously.

    Frames from `binary_frame` go straight to `transport.write` while the connection is open
    (`transport.is_closing()` is false: every close the protocol starts closes the transport;
    one the application starts goes through `close_now`). `transport.get_write_buffer_size()`
    is the client's backlog.
    """

    transport: asyncio.WriteTransport

    def set_receiver(self, receiver: Receiver) -> None:
        """From now on, hand each message to `receiver` as it arrives (earlier ones first)."""

    def close_now(self, code: int, reason: str) -> None:
        """Send a close frame after what is queued; give up on the client if it never reads."""

    @property
    def closing(self) -> bool:
        """True once a close frame was sent or the connection is gone."""
