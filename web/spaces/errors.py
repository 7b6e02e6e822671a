"""The one root exception of spaces: each kind carries the HTTP status a route answers with."""

from __future__ import annotations


class SpaceError(Exception):
    """A refused operation on spaces, members, pages or guest links; `message` is for users."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(SpaceError):
    """A form field has a value we cannot use."""

    status = 422


class NotFound(SpaceError):
    """No such space, page, member or link (or the user may not know it exists)."""

    status = 404


class Forbidden(SpaceError):
    """The user's role does not allow this."""

    status = 403


class Conflict(SpaceError):
    """The operation clashes with the current state (already a member, last owner, ...)."""

    status = 409


class Gone(SpaceError):
    """A single-use link that has served its use (an accepted invitation)."""

    status = 410
