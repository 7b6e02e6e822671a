"""Refusals of task operations: each carries its HTTP status and a French message template
with its values apart, so that a route can translate the template and then fill it in.

They are `SpaceError`s (the spaces' one root exception): a task is refused by the same
means as a page or a member.
"""

from __future__ import annotations

from typing import Any

from web.i18n import N_
from web.spaces.errors import SpaceError


class TaskError(SpaceError):
    """A refused task operation; `template % params` is the French message."""

    status = 400

    def __init__(self, template: str, /, **params: Any) -> None:
        super().__init__(template % params if params else template)
        self.template = template
        self.params = params
        # More for the JSON answer (the current task on a conflict, a cycle's task ids...).
        self.extra: dict[str, Any] = {}


class TaskInvalid(TaskError):
    """A value we cannot use."""

    status = 422


class TaskNotFound(TaskError):
    """No such task, column, label, item or link in this space (or not for this person)."""

    status = 404


class TaskConflict(TaskError):
    """The operation clashes with the current state."""

    status = 409


class StaleTask(TaskConflict):
    """A field update made on an older version of the task than the one that changed it."""

    def __init__(self, fields: list[str], current: dict[str, Any]) -> None:
        super().__init__(
            N_(
                "Cette tâche a été modifiée entre-temps (%(fields)s) : rechargez-la, puis "
                "refaites votre modification."
            ),
            fields=", ".join(fields),
        )
        self.extra = {"conflict": {"fields": fields}, "task": current}
