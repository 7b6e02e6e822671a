"""uvicorn's sans-I/O WebSocket protocol, plus a direct path for the sync endpoint.

This is the only module that reaches into uvicorn's internals (pinned in pyproject.toml).
Through ASGI, every message a server sends costs several awaits (the app's wrappers, the
protocol's flow-control wait, a fresh frame per client) and every message it receives a queue
round trip with reading paused and resumed. The sync endpoint sends the same small update to
many clients, so `atelier serve` runs this protocol (`ws="plumbing.wsdirect:..."`), which
offers the application a `DirectSocket` in `scope["extensions"]["atelier.direct"]`:

- the application writes ready-made frames (built once per broadcast) on the transport;
- `set_receiver` hands each incoming message to a plain function as it is parsed;
- `close_now` sends the close frame after what is queued and aborts the socket if the client
  does not finish closing in time (a stuck client cannot hold its backlog forever).

Everything else — handshake, pings, close handshake, size limits, HTTP routes' WebSockets —
is uvicorn's own code, unchanged.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request
from websockets.protocol import State

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - the C extension is built for every platform we use
    from websockets.utils import apply_mask

from plumbing.wsframe import DIRECT_EXTENSION, Receiver

log = logging.getLogger("atelier.sync")


class _QuietInfo(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' own "connection open" / "connection closed" lines, at DEBUG.

    uvicorn already logs each accepted or refused socket once, with its path; two more lines
    per connection flood the log in a reconnect storm (and cost a record each) for nothing.
    Errors and warnings pass unchanged.
    """

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.debug(msg, *args, **kwargs)


@functools.cache
def _quiet(logger: Any) -> _QuietInfo:
    return _QuietInfo(logger, {})  # one per logger (uvicorn gives every connection the same)


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    """`WebSocketsSansIOProtocol` that also implements `plumbing.wsframe.DirectSocket`."""

    _receiver: Receiver | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn.logger = _quiet(self.conn.logger)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            extensions = cast(dict[str, Any], scope["extensions"])
            extensions[DIRECT_EXTENSION] = self

    # -- DirectSocket ------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        return self.close_sent or self.disconnected

    def set_receiver(self, receiver: Receiver) -> None:
        self._receiver = receiver
        # Messages that arrived before (reading was paused after the first): in order.
        held = []
        while not self.queue.empty():
            held.append(self.queue.get_nowait())
        for message in held:
            if message["type"] == "websocket.receive":
                self._deliver(message.get("bytes"))
            else:
                self.queue.put_nowait(message)
        if self.read_paused and not self.disconnected:
            self.read_paused = False
            self.transport.resume_reading()

    def close_now(self, code: int, reason: str) -> None:
        if self.close_sent or self.disconnected:
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        # abort, not close: close() would wait for a client that stopped reading.
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.abort)

    # -- incoming ----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._receiver is None or not self._one_whole_binary_frame(data):
            super().data_received(data)

    def _one_whole_binary_frame(self, data: bytes) -> bool:
        """Deliver `data` if it is exactly one whole, masked, final binary frame.

        That is what a y-websocket client's message almost always arrives as. Anything else —
        partial or several frames, fragments, control or text frames, a frame past the size
        limit, data while websockets' parser holds some or is past the open state — goes
        through websockets' parser as usual. Skipping it leaves the parser as it was: waiting
        for the start of a frame with nothing buffered.
        """
        size = len(data)
        if size < 6 or data[0] != 0x82:  # FIN, no RSV bits, binary
            return False
        length = data[1] ^ 0x80  # clients must mask: a clear mask bit gives 128 or more
        offset = 2
        if length == 126:
            length = (data[2] << 8) | data[3]
            offset = 4
        elif length > 126:
            return False
        if offset + 4 + length != size:
            return False
        conn = self.conn
        if (
            conn.state is not State.OPEN
            or conn.current_size is not None
            or conn.reader.buffer
            or conn.parser_exc is not None
            or conn.extensions
            or self.close_sent
        ):
            return False
        if conn.max_message_size is not None and length > conn.max_message_size:
            return False
        self._deliver(apply_mask(data[offset + 4 :], data[offset : offset + 4]))
        return True

    def send_receive_event_to_app(self) -> None:
        if self._receiver is None or self.close_sent:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        self._deliver(None if self.curr_msg_data_type == "text" else bytes(data))

    def _deliver(self, data: bytes | None) -> None:
        receiver = self._receiver
        if receiver is None or self.close_sent:
            return
        try:
            receiver(data)
        except Exception:
            log.exception("connection from %s: message handling failed", self.client)
            self.close_now(1011, "internal error; reconnect")
