"""The SFU's one root exception and its kinds."""

from __future__ import annotations


class SfuError(Exception):
    """Root of every error the SFU raises on purpose."""


class SignalingError(SfuError, ValueError):
    """A signaling message is malformed, too large or not allowed (close 1008 or 1009)."""

    def __init__(self, message: str, *, code: int = 1008) -> None:
        super().__init__(message)
        self.code = code


class NegotiationError(SfuError):
    """An SDP offer or answer could not be applied."""
