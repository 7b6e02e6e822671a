"""The live stream's errors: one root, and bad client input with the close code it earns."""

from __future__ import annotations


class LiveError(Exception):
    """Root of the live stream's errors."""


class LiveProtocolError(LiveError):
    """A client sent something the protocol does not allow: close with `code` (1008 default)."""

    def __init__(self, message: str, *, code: int = 1008) -> None:
        super().__init__(message)
        self.code = code
