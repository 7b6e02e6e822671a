"""Exceptions of the realtime package."""

from __future__ import annotations

CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009


class RealtimeError(Exception):
    """Root of every error raised by the realtime package."""


class ProtocolError(RealtimeError, ValueError):
    """Bytes from a peer that do not follow the y-websocket protocol.

    `close_code` is the WebSocket close code the connection should be closed with:
    1003 for unknown message types, 1008 for malformed or invalid content, 1009 for too large.
    """

    def __init__(self, message: str, close_code: int = CLOSE_POLICY_VIOLATION) -> None:
        super().__init__(message)
        self.close_code = close_code
