"""JSON routes of the social layer (docs/social.md lists them) and the one-click
unsubscribe page of notification mails.

Thin: read the JSON body (`web.tasks.routes.read_json`: size-limited), check its values
(`web.social.content`), call a service, publish its live events once committed, answer JSON.
Refusals are `{"error": ...}` in the person's language; an item or comment one may not read
is a 404 like one that does not exist.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import wraps
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from web.auth.current import CurrentUser, require_user
from web.i18n import gettext_for
from web.live_topics import person_topic
from web.social import activity, comments, content, reactions
from web.social.errors import (
    NOT_FOUND,
    SocialError,
    SocialInvalid,
    SocialNotFound,
    TooManyComments,
)
from web.social.mail_text import UNSUBSCRIBE_PATH, read_unsubscribe_token
from web.social.mails import NotificationMails, mail_modes, set_mail_mode
from web.social.model import LiveEvent, Outcome, SocialStore, names
from web.social.notify import LIST_LIMIT, MAIL_MODES, mark_read, notification_json, unread_counts
from web.social.page_mentions import check_page_mentions
from web.social.tables import notifications
from web.spaces import services
from web.spaces.access import MAX_ID, space_role, utcnow
from web.spaces.errors import SpaceError
from web.tasks.routes import read_json
from web.templating import render

log = logging.getLogger("atelier.social")

NO_ACCESS = {
    "page": "%(name)s n'a pas accès à cette page.",
    "space": "%(name)s n'a pas accès à cet espace.",
}
NO_ACCESS_OTHER = "%(name)s n'a pas accès à cet élément."

Method = Callable[["SocialRoutes", Request], Awaitable[Response]]


def refusal(request: Request, error: SpaceError) -> JSONResponse:
    t = gettext_for(request).gettext
    if isinstance(error, SocialError):
        message = t(error.template) % error.params if error.params else t(error.template)
    else:
        message = t(error.message)
    return JSONResponse({"error": message}, status_code=error.status)


def json_errors(method: Method) -> Method:
    @wraps(method)
    async def wrapper(self: SocialRoutes, request: Request) -> Response:
        try:
            return await method(self, request)
        except content.ContentError as error:
            return JSONResponse({"error": gettext_for(request).gettext(str(error))}, 422)
        except SpaceError as error:
            return refusal(request, error)

    return wrapper


def _fields(body: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise SocialInvalid("Requête illisible : un objet JSON est attendu.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise SocialInvalid("Champ inconnu : %(field)s.", field=unknown[0])
    return body


def _path_id(request: Request, name: str) -> int:
    value = request.path_params[name]
    if not isinstance(value, int) or not 0 < value < MAX_ID:
        raise SocialNotFound(NOT_FOUND)
    return value


def _flag(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise SocialInvalid("%(field)s : vrai, faux ou null.", field=name)


class SocialRoutes:
    def __init__(self, store: SocialStore, mails: NotificationMails) -> None:
        self.store = store
        self.mails = mails

    def routes(self) -> list[BaseRoute]:
        item = "/api/items/{kind}/{item_id:int}"
        comment = "/api/commentaires/{comment_id:int}"
        r = Route
        return [
            r(item + "/commentaires", self.threads, methods=["GET"]),
            r(item + "/commentaires", self.create, methods=["POST"]),
            r(comment, self.edit, methods=["PATCH"]),
            r(comment, self.remove, methods=["DELETE"]),
            r(comment + "/resoudre", self.resolve, methods=["POST"]),
            r(comment + "/rouvrir", self.reopen, methods=["POST"]),
            r(comment + "/reactions", self.react, methods=["POST"]),
            r(item + "/recommandations", self.recommendations, methods=["GET"]),
            r(item + "/recommandations", self.recommend, methods=["POST"]),
            r(item + "/mentions", self.page_mentions, methods=["POST"]),
            r(item + "/suivi", self.following, methods=["GET"]),
            r(item + "/suivi", self.set_following, methods=["POST"]),
            r("/api/notifications", self.notifications, methods=["GET"]),
            r("/notifications", self.notifications_page, methods=["GET"]),
            r("/api/notifications/lues", self.read_all, methods=["POST"]),
            r("/api/notifications/{notification_id:int}/lue", self.read_one, methods=["POST"]),
            r("/api/notifications/courriels", self.mail_settings, methods=["GET"]),
            r("/api/notifications/courriels", self.set_mail_settings, methods=["POST"]),
            r("/api/espaces/{slug}/activite", self.activity, methods=["GET"]),
            r(UNSUBSCRIBE_PATH, self.unsubscribe_form, methods=["GET"]),
            r(UNSUBSCRIBE_PATH, self.unsubscribe, methods=["POST"]),
        ]

    async def _answer(self, request: Request, outcome: Outcome) -> JSONResponse:
        await publish(request, outcome.events)
        return JSONResponse(outcome.body, status_code=outcome.status)

    @staticmethod
    def _kind(request: Request) -> tuple[str, int]:
        return str(request.path_params["kind"]), _path_id(request, "item_id")

    # -- comments -------------------------------------------------------------------------

    @json_errors
    async def threads(self, request: Request) -> Response:
        user = require_user(request)
        kind, item_id = self._kind(request)
        which = {"non": "open", "oui": "resolved", "tous": "all"}.get(
            request.query_params.get("resolus", "non")
        )
        if which is None:
            raise SocialInvalid("resolus : oui, non ou tous.")
        return JSONResponse(
            await comments.threads(self.store, user, kind, item_id, which, utcnow())
        )

    def _check_rate(self, user: CurrentUser) -> None:
        if not self.store.may_post(user.id, time.monotonic()):
            raise TooManyComments("Trop de commentaires d'un coup : attendez un peu.")

    def _reported(self, request: Request, kind: str, outcome: Outcome) -> None:
        t = gettext_for(request).gettext
        template = t(NO_ACCESS.get(kind, NO_ACCESS_OTHER))
        for who in outcome.body.get("no_access", []):
            who["message"] = template % {"name": who["name"]}

    @json_errors
    async def create(self, request: Request) -> Response:
        user = require_user(request)
        kind, item_id = self._kind(request)
        body = _fields(await read_json(request), ("body", "anchor", "quote", "thread_id"))
        text = content.comment_body(body.get("body"), self.store.limits.max_comment_chars)
        thread_id = body.get("thread_id")
        if thread_id is not None and (
            not isinstance(thread_id, int)
            or isinstance(thread_id, bool)
            or not 0 < thread_id < MAX_ID
        ):
            raise SocialNotFound("Ce fil de discussion n'existe pas.")
        anchor = content.anchor(body.get("anchor"))
        quote = content.quote(body.get("quote"))
        self._check_rate(user)
        outcome = await comments.create(
            self.store,
            user,
            kind,
            item_id,
            text,
            anchor=anchor,
            quote=quote,
            thread_id=thread_id,
            now=utcnow(),
        )
        self._reported(request, kind, outcome)
        return await self._answer(request, outcome)

    @json_errors
    async def edit(self, request: Request) -> Response:
        user = require_user(request)
        comment_id = _path_id(request, "comment_id")
        body = _fields(await read_json(request), ("body", "orphaned"))
        text = None
        if "body" in body:
            text = content.comment_body(body["body"], self.store.limits.max_comment_chars)
        orphaned = _flag(body.get("orphaned"), "orphaned")
        outcome = await comments.edit(
            self.store, user, comment_id, body=text, orphaned=orphaned, now=utcnow()
        )
        return await self._answer(request, outcome)

    @json_errors
    async def remove(self, request: Request) -> Response:
        user = require_user(request)
        comment_id = _path_id(request, "comment_id")
        return await self._answer(
            request, await comments.remove(self.store, user, comment_id, utcnow())
        )

    @json_errors
    async def resolve(self, request: Request) -> Response:
        user = require_user(request)
        comment_id = _path_id(request, "comment_id")
        outcome = await comments.set_resolved(self.store, user, comment_id, True, utcnow())
        return await self._answer(request, outcome)

    @json_errors
    async def reopen(self, request: Request) -> Response:
        user = require_user(request)
        comment_id = _path_id(request, "comment_id")
        outcome = await comments.set_resolved(self.store, user, comment_id, False, utcnow())
        return await self._answer(request, outcome)

    # -- reactions, recommend, follow ---------------------------------------------------------

    @json_errors
    async def react(self, request: Request) -> Response:
        user = require_user(request)
        comment_id = _path_id(request, "comment_id")
        body = _fields(await read_json(request), ("emoji", "on"))
        emoji = body.get("emoji")
        if not isinstance(emoji, str):
            raise SocialInvalid("Réaction inconnue.")
        outcome = await reactions.react(
            self.store, user, comment_id, emoji, _flag(body.get("on"), "on"), utcnow()
        )
        return await self._answer(request, outcome)

    @json_errors
    async def recommendations(self, request: Request) -> Response:
        user = require_user(request)
        kind, item_id = self._kind(request)
        return JSONResponse(
            await reactions.recommendations(self.store, user, kind, item_id, utcnow())
        )

    @json_errors
    async def recommend(self, request: Request) -> Response:
        user = require_user(request)
        kind, item_id = self._kind(request)
        body = _fields(await read_json(request) or {}, ("on",))
        outcome = await reactions.recommend(
            self.store, user, kind, item_id, _flag(body.get("on"), "on"), utcnow()
        )
        return await self._answer(request, outcome)

    @json_errors
    async def page_mentions(self, request: Request) -> Response:
        """An editor's client asks after inserting a mention in a page's text: the server
        reads the stored document and notifies whoever it newly mentions."""
        user = require_user(request)
        kind, item_id = self._kind(request)
        if kind != "page":
            raise SocialNotFound(NOT_FOUND)
        state = request.app.state
        outcome = await check_page_mentions(
            self.store, state.rooms, state.store, user, item_id, utcnow()
        )
        self._reported(request, kind, outcome)
        return await self._answer(request, outcome)

    @json_errors
    async def following(self, request: Request) -> Response:
        user = require_user(request)
        kind, item_id = self._kind(request)
        return JSONResponse(await reactions.following(self.store, user, kind, item_id, utcnow()))

    @json_errors
    async def set_following(self, request: Request) -> Response:
        user = require_user(request)
        kind, item_id = self._kind(request)
        body = _fields(await read_json(request), ("state",))
        state = body.get("state")
        if state is not None and not isinstance(state, str):
            raise SocialInvalid("Choix : follow, unfollow, mute ou null.")
        outcome = await reactions.set_following(self.store, user, kind, item_id, state, utcnow())
        return await self._answer(request, outcome)

    # -- notifications ------------------------------------------------------------------------

    async def grouped(self, user: CurrentUser) -> dict[str, Any]:
        """The person's latest notifications, grouped by item (newest item first), each item
        checked again: one the person may no longer read is left out."""
        now = utcnow()
        engine = self.store.engine
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(notifications)
                    .where(notifications.c.user_id == user.id)
                    .order_by(notifications.c.id.desc())
                    .limit(LIST_LIMIT)
                )
            ).all()
            known = await names(conn, [r.actor_id for r in rows])
            groups: dict[tuple[str, int], dict[str, Any]] = {}
            for row in rows:
                key = (row.item_kind, row.item_id)
                if key not in groups:
                    item = await self.store.kinds.open(conn, user, *key, now)
                    groups[key] = {
                        "item": None
                        if item is None
                        else {
                            "kind": item.kind,
                            "id": item.id,
                            "title": item.title,
                            "url": item.url,
                        },
                        "notifications": [],
                    }
                group = groups[key]
                if group["item"] is not None:
                    shown = notification_json(row, known)
                    anchor = f"#commentaire-{row.comment_id}" if row.comment_id else ""
                    shown["url"] = group["item"]["url"] + anchor
                    group["notifications"].append(shown)
            unread = (await unread_counts(conn, [user.id]))[user.id]
        listed = [g for g in groups.values() if g["item"] is not None]
        return {"unread": unread, "groups": listed}

    @json_errors
    async def notifications(self, request: Request) -> Response:
        """`?seulement=nombre`: the unread count alone (the header's bell)."""
        user = require_user(request)
        if request.query_params.get("seulement") == "nombre":
            async with self.store.engine.connect() as conn:
                unread = (await unread_counts(conn, [user.id]))[user.id]
            return JSONResponse({"unread": unread})
        return JSONResponse(await self.grouped(user))

    async def notifications_page(self, request: Request) -> Response:
        """The person's notifications as a page (the bell's link)."""
        user = require_user(request)
        found = await self.grouped(user)
        for group in found["groups"]:
            for shown in group["notifications"]:
                shown["at"] = datetime.fromisoformat(shown["created_at"])
        return render(request, "social/notifications.html", found)

    async def _mark(self, request: Request, notification_id: int | None) -> Response:
        user = require_user(request)
        async with self.store.engine.begin() as conn:
            changed = await mark_read(conn, user.id, notification_id, utcnow())
            unread = (await unread_counts(conn, [user.id]))[user.id]
        if notification_id is not None and not changed:
            async with self.store.engine.connect() as conn:
                mine = (
                    await conn.execute(
                        select(notifications.c.id).where(
                            notifications.c.id == notification_id,
                            notifications.c.user_id == user.id,
                        )
                    )
                ).first()
            if mine is None:
                raise SocialNotFound(NOT_FOUND)
        data = {"id": notification_id, "unread": unread}
        if changed:
            await publish(request, [LiveEvent(person_topic(user.id), "notification.read", data)])
        return JSONResponse(data)

    @json_errors
    async def read_one(self, request: Request) -> Response:
        return await self._mark(request, _path_id(request, "notification_id"))

    @json_errors
    async def read_all(self, request: Request) -> Response:
        return await self._mark(request, None)

    @json_errors
    async def mail_settings(self, request: Request) -> Response:
        user = require_user(request)
        return JSONResponse(await mail_modes(self.store.engine, user.id))

    @json_errors
    async def set_mail_settings(self, request: Request) -> Response:
        user = require_user(request)
        body = _fields(await read_json(request), ("space_id", "mail"))
        mode = body.get("mail")
        if mode not in MAIL_MODES:
            raise SocialInvalid("Courriels : immediate, daily ou off.")
        space_id = body.get("space_id") or 0
        if (
            not isinstance(space_id, int)
            or isinstance(space_id, bool)
            or not 0 <= space_id < MAX_ID
        ):
            raise SocialNotFound(NOT_FOUND)
        if space_id and await space_role(self.store.engine, user, space_id) is None:
            raise SocialNotFound(NOT_FOUND)
        await set_mail_mode(self.store.engine, user.id, space_id, str(mode))
        return JSONResponse(await mail_modes(self.store.engine, user.id))

    # -- the activity feed ------------------------------------------------------------------

    @json_errors
    async def activity(self, request: Request) -> Response:
        user = require_user(request)
        space = await services.space_by_slug(self.store.engine, str(request.path_params["slug"]))
        before_text = request.query_params.get("avant", "")
        before = int(before_text) if before_text.isdigit() and len(before_text) < 10 else None
        found = None
        if space is not None:
            found = await activity.feed(
                self.store.engine, user, space.id, space.slug, utcnow(), before=before
            )
        if found is None or space is None:
            raise SocialNotFound(NOT_FOUND)
        if services.members_hidden_from(space, user):
            # The feed names members: a guest the space does not show them to sees none of it.
            return JSONResponse({"entries": [], "next": None, "hidden": True})
        return JSONResponse(found)

    # -- one-click unsubscribe (RFC 8058) -----------------------------------------------------

    def _token(self, request: Request) -> tuple[int, int] | None:
        token = request.query_params.get("jeton", "")
        return read_unsubscribe_token(self.mails.secret, token) if len(token) < 200 else None

    async def unsubscribe_form(self, request: Request) -> Response:
        """The page a person's browser opens from the mail: a button (a GET changes nothing,
        so that link scanners unsubscribe no one)."""
        found = self._token(request)
        return render(
            request,
            "social/unsubscribe.html",
            {
                "valid": found is not None,
                "done": False,
                "jeton": request.query_params.get("jeton", ""),
            },
            status_code=200 if found else 404,
        )

    async def unsubscribe(self, request: Request) -> Response:
        """The mail client's one-click POST (and the page's button): no session, no CSRF
        token — the signed link is the proof."""
        found = self._token(request)
        if found is None:
            return render(
                request,
                "social/unsubscribe.html",
                {"valid": False, "done": False, "jeton": ""},
                status_code=404,
            )
        user_id, space_id = found
        try:
            await set_mail_mode(self.store.engine, user_id, space_id, "off")
        except Exception:  # an account deleted since: nothing to stop
            log.info("unsubscribe of a missing account %s", user_id)
        return render(
            request, "social/unsubscribe.html", {"valid": True, "done": True, "jeton": ""}
        )


async def publish(request: Request, events: list[LiveEvent]) -> None:
    """Hand committed changes to their viewers; a failure loses no change (viewers catch up
    when they reload)."""
    live = request.app.state.live
    try:
        for event in events:
            await live.publish(event.topic, event.kind, event.data)
    except Exception:
        log.warning("could not publish social events", exc_info=True)
