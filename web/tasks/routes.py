"""JSON routes of tasks (docs/tasks.md lists them), and the "Mes tâches" page.

Thin: read the JSON body and check its values (`web.tasks.validation`), call a service,
publish its events once committed, answer JSON. Every refusal is a clear 4xx in the
person's language, `{"error": ...}` plus what helps the client (the current task on a 409,
a cycle's tasks). The space comes from the URL; the service checks the person's role in
it inside its own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date
from functools import wraps
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from web.auth.current import CurrentUser, require_user
from web.i18n import gettext_for
from web.live_access import doc_tag, recheck
from web.local_time import today_in
from web.spaces import services
from web.spaces.errors import SpaceError
from web.tasks import editing, planning, reading, structure, validation
from web.tasks.common import Outcome, TaskStore
from web.tasks.errors import TaskError, TaskInvalid, TaskNotFound
from web.tasks.export import to_csv
from web.tasks.live import publish
from web.templating import render

MAX_BODY = 256 * 1024


class BodyTooLarge(TaskError):
    status = 413


def refusal(request: Request, error: SpaceError) -> JSONResponse:
    """A refusal as JSON, in the person's language."""
    t = gettext_for(request).gettext
    if isinstance(error, TaskError):
        params = {k: t(v) if k == "field" else v for k, v in error.params.items()}
        message = t(error.template) % params if params else t(error.template)
        extra = error.extra
    else:
        message, extra = t(error.message), {}
    return JSONResponse({"error": message, **extra}, status_code=error.status)


Method = Callable[["TaskRoutes", Request], Awaitable[Response]]


def json_errors(method: Method) -> Method:
    """Turn a refused operation into its JSON answer."""

    @wraps(method)
    async def wrapper(self: TaskRoutes, request: Request) -> Response:
        try:
            return await method(self, request)
        except SpaceError as error:
            return refusal(request, error)

    return wrapper


async def read_json(request: Request) -> Any:
    """The request's JSON body (at most MAX_BODY bytes)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise BodyTooLarge("Requête trop volumineuse.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyTooLarge("Requête trop volumineuse.")
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks) or b"null", parse_constant=_not_json)
    except ValueError:
        raise TaskInvalid("Requête illisible : JSON invalide.") from None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def today(user: CurrentUser) -> date:
    """Today in the person's time zone (overdue means past this date)."""
    return today_in(user.time_zone)


def task_url(slug: str, task_id: int) -> str:
    return f"/espaces/{quote(slug)}/taches/{task_id}"


def _path_id(request: Request, name: str) -> int:
    value = request.path_params[name]
    if not isinstance(value, int) or not 0 < value < 2**31:
        raise TaskNotFound("Introuvable.")
    return value


class TaskRoutes:
    """The routes, sharing the store (engine and the social layer's hooks)."""

    def __init__(self, store: TaskStore) -> None:
        self.store = store

    def routes(self) -> list[BaseRoute]:
        base = "/api/espaces/{slug}/taches"
        task = base + "/{task_id:int}"
        r = Route
        return [
            r("/taches", self.mine_page, methods=["GET"]),
            r("/api/taches", self.mine, methods=["GET"]),
            r(base, self.board, methods=["GET"]),
            r(base, self.create, methods=["POST"]),
            r(base + "/archives", self.archived, methods=["GET"]),
            r(base + "/export.csv", self.export, methods=["GET"]),
            r(base + "/planning", self.planning, methods=["GET"]),
            r(base + "/planning/annuler", self.undo, methods=["POST"]),
            r(base + "/reglages", self.settings, methods=["PATCH"]),
            r(base + "/colonnes", self.add_column, methods=["POST"]),
            r(base + "/colonnes/{column_id:int}", self.change_column, methods=["PATCH"]),
            r(base + "/colonnes/{column_id:int}", self.remove_column, methods=["DELETE"]),
            r(base + "/etiquettes", self.add_label, methods=["POST"]),
            r(base + "/etiquettes/{label_id:int}", self.change_label, methods=["PATCH"]),
            r(base + "/etiquettes/{label_id:int}", self.remove_label, methods=["DELETE"]),
            r(base + "/dependances", self.add_dependency, methods=["POST"]),
            r(base + "/dependances/{dep_id:int}", self.change_dependency, methods=["PATCH"]),
            r(base + "/dependances/{dep_id:int}", self.remove_dependency, methods=["DELETE"]),
            r(task, self.detail, methods=["GET"]),
            r(task, self.update, methods=["PATCH"]),
            r(task, self.delete, methods=["DELETE"]),
            r(task + "/deplacer", self.move, methods=["POST"]),
            r(task + "/planifier", self.reschedule, methods=["POST"]),
            r(task + "/liste", self.add_item, methods=["POST"]),
            r(task + "/liste/{item_id:int}", self.change_item, methods=["PATCH"]),
            r(task + "/liste/{item_id:int}", self.remove_item, methods=["DELETE"]),
            r("/api/espaces/{slug}/pages/{page_id:int}/taches", self.from_item, methods=["POST"]),
        ]

    async def _space(self, request: Request) -> tuple[CurrentUser, int, str]:
        """The person and the space of the URL (its role is checked by the service)."""
        user = require_user(request)
        space = await services.space_by_slug(self.store.engine, str(request.path_params["slug"]))
        if space is None:
            raise TaskNotFound("Espace introuvable.")
        return user, space.id, space.slug

    async def _answer(self, request: Request, space_id: int, outcome: Outcome) -> JSONResponse:
        await publish(request.app.state.live, space_id, outcome.events)
        return JSONResponse(outcome.body, status_code=outcome.status)

    # -- reading ------------------------------------------------------------------------

    @json_errors
    async def board(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        query = request.query_params
        due = query.get("echeance") or None
        if due is not None and due not in reading.DUE_FILTERS:
            raise TaskInvalid("Échéance : retard, semaine ou sans.")
        filters = reading.Filters(
            assignee=validation.query_int(query, "assigne"),
            label=validation.query_int(query, "etiquette"),
            due=due,
            text=" ".join(query.get("q", "")[:200].split()),
            today=today(user),
        )
        return JSONResponse(await reading.board(self.store, user, space_id, filters))

    @json_errors
    async def archived(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        page = validation.query_int(request.query_params, "page") or 1
        text = " ".join(request.query_params.get("q", "")[:200].split())
        return JSONResponse(await reading.archived_cards(self.store, user, space_id, page, text))

    @json_errors
    async def detail(self, request: Request) -> Response:
        user, space_id, slug = await self._space(request)
        task_id = _path_id(request, "task_id")
        found = await reading.task_detail(self.store, user, space_id, task_id)
        return JSONResponse({**found, "url": task_url(slug, task_id)})

    @json_errors
    async def planning(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        return JSONResponse(await planning.planning_view(self.store, user, space_id))

    @json_errors
    async def export(self, request: Request) -> Response:
        user, space_id, slug = await self._space(request)
        rows = await reading.export_rows(self.store, user, space_id)
        name = f"taches-{slug}-{today(user).isoformat()}.csv"
        return Response(
            to_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    @json_errors
    async def mine(self, request: Request) -> Response:
        user = require_user(request)
        listed = await reading.my_tasks(self.store, user, today(user))
        return JSONResponse({"tasks": listed, "today": today(user).isoformat()})

    async def mine_page(self, request: Request) -> Response:
        user = require_user(request)
        listed = await reading.my_tasks(self.store, user, today(user))
        open_tasks = [t for t in listed if not t["done"]]
        finished = [t for t in listed if t["done"]]
        return render(
            request,
            "tasks/mine.html",
            {"open_tasks": open_tasks, "finished": finished, "today": today(user)},
        )

    # -- tasks --------------------------------------------------------------------------

    @json_errors
    async def create(self, request: Request) -> Response:
        user, space_id, slug = await self._space(request)
        body = validation.body_fields(await read_json(request), editing.CREATABLE, ["title"])
        outcome = await editing.create_task(self.store, user, space_id, editing.task_fields(body))
        outcome.body["url"] = task_url(slug, outcome.body["task"]["id"])
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def update(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        task_id = _path_id(request, "task_id")
        body = validation.body_fields(
            await read_json(request), (*editing.UPDATABLE, "version"), ["version"]
        )
        seen = validation.version(body.pop("version"))
        fields = editing.task_fields(body)
        outcome = await editing.update_task(self.store, user, space_id, task_id, seen, fields)
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def delete(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        task_id = _path_id(request, "task_id")
        outcome = await editing.delete_task(self.store, user, space_id, task_id)
        # Whoever has the description open loses it.
        await recheck(request, doc_tag(outcome.body.pop("doc_name")), reason="task deleted")
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def move(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        task_id = _path_id(request, "task_id")
        body = validation.body_fields(
            await read_json(request), ("column_id", "order", "version"), ("column_id", "order")
        )
        column_id = validation.ident(body["column_id"], "Colonne")
        key = validation.order_key(body["order"])
        seen = None if body.get("version") is None else validation.version(body["version"])
        outcome = await editing.move_task(self.store, user, space_id, task_id, column_id, key, seen)
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def from_item(self, request: Request) -> Response:
        user, space_id, slug = await self._space(request)
        page_id = _path_id(request, "page_id")
        body = validation.body_fields(
            await read_json(request), ("text", "item_id"), ("text", "item_id")
        )
        text = validation.title(body["text"])
        item = validation.item_ref(body["item_id"])
        outcome = await editing.task_from_page_item(self.store, user, space_id, page_id, item, text)
        outcome.body["url"] = task_url(slug, outcome.body["task"]["id"])
        return await self._answer(request, space_id, outcome)

    # -- checklist ----------------------------------------------------------------------

    @json_errors
    async def add_item(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        task_id = _path_id(request, "task_id")
        body = validation.body_fields(await read_json(request), ("text",), ("text",))
        text = validation.text_line(body["text"], "Texte", validation.MAX_ITEM_TEXT)
        outcome = await editing.add_checklist_item(self.store, user, space_id, task_id, text)
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def change_item(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        task_id = _path_id(request, "task_id")
        item_id = _path_id(request, "item_id")
        body = validation.body_fields(
            await read_json(request), ("text", "done", "position", "version")
        )
        values: dict[str, Any] = {}
        if "text" in body:
            values["text"] = validation.text_line(body["text"], "Texte", validation.MAX_ITEM_TEXT)
        if "done" in body:
            values["done"] = validation.flag(body["done"], "Fait")
        if "position" in body:
            values["position"] = validation.order_key(body["position"])
        seen = None if body.get("version") is None else validation.version(body["version"])
        outcome = await editing.update_checklist_item(
            self.store, user, space_id, task_id, item_id, seen, values
        )
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def remove_item(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        task_id = _path_id(request, "task_id")
        item_id = _path_id(request, "item_id")
        outcome = await editing.delete_checklist_item(self.store, user, space_id, task_id, item_id)
        return await self._answer(request, space_id, outcome)

    # -- columns, labels, settings --------------------------------------------------------

    @staticmethod
    def _column_values(body: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if "name" in body:
            values["name"] = validation.text_line(body["name"], "Nom", validation.MAX_COLUMN_NAME)
        if "wip_limit" in body:
            values["wip_limit"] = validation.wip_limit(body["wip_limit"])
        if "done" in body:
            values["done"] = validation.flag(body["done"], "Terminée")
        if "position" in body:
            values["position"] = validation.order_key(body["position"])
        return values

    @json_errors
    async def add_column(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        allowed = ("name", "wip_limit", "done", "position")
        body = validation.body_fields(await read_json(request), allowed, ("name",))
        outcome = await structure.add_column(self.store, user, space_id, self._column_values(body))
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def change_column(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        column_id = _path_id(request, "column_id")
        allowed = ("name", "wip_limit", "done", "position")
        body = validation.body_fields(await read_json(request), allowed)
        values = self._column_values(body)
        outcome = await structure.change_column(self.store, user, space_id, column_id, values)
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def remove_column(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        column_id = _path_id(request, "column_id")
        move_to = validation.query_int(request.query_params, "vers")
        outcome = await structure.remove_column(self.store, user, space_id, column_id, move_to)
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def add_label(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        body = validation.body_fields(
            await read_json(request), ("name", "colour"), ("name", "colour")
        )
        name = validation.text_line(body["name"], "Nom", validation.MAX_LABEL_NAME)
        colour = validation.colour(body["colour"])
        outcome = await structure.add_label(self.store, user, space_id, name, colour)
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def change_label(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        label_id = _path_id(request, "label_id")
        body = validation.body_fields(await read_json(request), ("name", "colour"))
        values: dict[str, Any] = {}
        if "name" in body:
            values["name"] = validation.text_line(body["name"], "Nom", validation.MAX_LABEL_NAME)
        if "colour" in body:
            values["colour"] = validation.colour(body["colour"])
        outcome = await structure.change_label(self.store, user, space_id, label_id, values)
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def remove_label(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        label_id = _path_id(request, "label_id")
        outcome = await structure.remove_label(self.store, user, space_id, label_id)
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def settings(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        body = validation.body_fields(
            await read_json(request), ("skip_non_working",), ("skip_non_working",)
        )
        skip = validation.flag(body["skip_non_working"], "Jours ouvrés")
        outcome = await structure.change_settings(self.store, user, space_id, skip)
        return await self._answer(request, space_id, outcome)

    # -- plan -----------------------------------------------------------------------------

    @json_errors
    async def add_dependency(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        allowed = ("predecessor_id", "successor_id", "kind", "lag_days")
        body = validation.body_fields(
            await read_json(request), allowed, ("predecessor_id", "successor_id")
        )
        outcome = await planning.add_dependency(
            self.store,
            user,
            space_id,
            validation.ident(body["predecessor_id"], "Prédécesseur"),
            validation.ident(body["successor_id"], "Successeur"),
            validation.link_kind(body.get("kind", "FS")),
            validation.lag(body.get("lag_days", 0)),
        )
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def change_dependency(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        dep_id = _path_id(request, "dep_id")
        body = validation.body_fields(await read_json(request), ("kind", "lag_days"))
        values: dict[str, Any] = {}
        if "kind" in body:
            values["kind"] = validation.link_kind(body["kind"])
        if "lag_days" in body:
            values["lag_days"] = validation.lag(body["lag_days"])
        outcome = await planning.change_dependency(self.store, user, space_id, dep_id, values)
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def remove_dependency(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        dep_id = _path_id(request, "dep_id")
        outcome = await planning.remove_dependency(self.store, user, space_id, dep_id)
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def reschedule(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        task_id = _path_id(request, "task_id")
        body = validation.body_fields(
            await read_json(request),
            ("start_date", "due_date", "version"),
            ("start_date", "due_date", "version"),
        )
        start = validation.optional_date(body["start_date"], "Début")
        due = validation.optional_date(body["due_date"], "Échéance")
        if start is None or due is None:
            raise TaskInvalid("Un déplacement sur le planning donne un début et une échéance.")
        validation.date_order(start, due)
        seen = validation.version(body["version"])
        outcome = await planning.reschedule_task(
            self.store, user, space_id, task_id, seen, start, due
        )
        return await self._answer(request, space_id, outcome)

    @json_errors
    async def undo(self, request: Request) -> Response:
        user, space_id, _ = await self._space(request)
        body = validation.body_fields(await read_json(request), ("changes",), ("changes",))
        changes = body["changes"]
        if not isinstance(changes, list) or not changes:
            raise TaskInvalid("Changements : liste non vide attendue.")
        if len(changes) > planning.MAX_UNDO:
            raise TaskInvalid("Trop de changements à annuler d'un coup.")
        items = []
        for change in changes:
            fields = validation.body_fields(
                change, ("id", "version", "start_date", "due_date"), ("id", "version")
            )
            items.append(
                (
                    validation.ident(fields["id"], "Tâche"),
                    validation.version(fields["version"]),
                    validation.optional_date(fields.get("start_date"), "Début"),
                    validation.optional_date(fields.get("due_date"), "Échéance"),
                )
            )
        if len({item[0] for item in items}) != len(items):
            raise TaskInvalid("Une tâche figure deux fois dans les changements.")
        outcome = await planning.undo_reschedule(self.store, user, space_id, items)
        return await self._answer(request, space_id, outcome)
