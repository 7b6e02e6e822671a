"""Refusals of social operations: an HTTP status and a French message template with its
values apart (a route translates the template, then fills it in). They are `SpaceError`s,
refused by the same means as a page or a task."""

from __future__ import annotations

from typing import Any

from web.spaces.errors import SpaceError


class SocialError(SpaceError):
    status = 400

    def __init__(self, template: str, /, **params: Any) -> None:
        super().__init__(template % params if params else template)
        self.template = template
        self.params = params


class SocialInvalid(SocialError):
    status = 422


class SocialNotFound(SocialError):
    """No such item or comment, or not for this person: the same answer."""

    status = 404


class SocialForbidden(SocialError):
    status = 403


class TooManyComments(SocialError):
    status = 429


NOT_FOUND = "Introuvable."
