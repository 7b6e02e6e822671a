"""Meeting pages: `/espaces/{slug}/reunion` (a space's room, a stable link), `/reunion/nouvelle`
(a new ad-hoc meeting `meet-<random>` for signed-in agents), `/reunion/{room}` (join one).

The page is the pre-join screen and the meeting client (editor/entries/meeting.ts); the
`/visio/{room}` socket decides again who gets in (members, hosts, guests through the lobby).

Looking at a space's meeting page changes nothing: the day's notes page is shown when it
exists, and created by `POST /espaces/{slug}/reunion/notes`, which the meeting client sends
when someone who may write in the space joins (the editor beside the video then opens it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sfu.endpoint import ROOM_NAME
from web.auth.current import CurrentUser, require_user
from web.i18n import N_, gettext_for
from web.local_time import DEFAULT_ZONE, today_in
from web.pages.view import EditorPage, caret_colour
from web.spaces.access import live_link, page_context, space_role, utcnow
from web.spaces.endpoints import engine_of
from web.spaces.services import Space, space_by_id, space_by_slug
from web.templating import render
from web.visio.notes import find_notes_page, may_create_notes, notes_title, open_notes_page

NOT_FOUND = N_("Cette réunion n’existe pas ou vous n’y avez pas accès.")
NOTES_FOR_WRITERS = N_(
    "Les notes de réunion du jour sont créées par une personne qui écrit dans l’espace."
)

# Texts of the meeting client, translated into the visitor's language (src/meeting/strings.ts).
CLIENT_STRINGS = {
    "you": N_("{name} (vous)"),
    "host": N_("hôte"),
    "guest": N_("invité·e"),
    "handRaised": N_("main levée"),
    "micMuted": N_("micro coupé"),
    "cameraOff": N_("caméra coupée"),
    "speaking": N_("parle"),
    "screenOf": N_("Écran de {name}"),
    "muteOne": N_("Couper le micro de {name}"),
    "remove": N_("Retirer {name}"),
    "pin": N_("Épingler"),
    "pinOne": N_("Épingler {name}"),
    "admit": N_("Faire entrer {name}"),
    "refuse": N_("Refuser {name}"),
    "lobbyCount": N_("En salle d’attente : {count}"),
    "lobbyBadge": N_("{count} en salle d’attente"),
    "knockNotice": N_("{name} demande à entrer"),
    "admitShort": N_("Admettre"),
    "seeLobby": N_("Voir la salle d’attente"),
    "dismiss": N_("Masquer"),
    "showLarge": N_("Afficher en grand"),
    "backToGrid": N_("Revenir à la mosaïque"),
    "reactionFrom": N_("{name} : {emoji}"),
    "joinedNotice": N_("{name} a rejoint la réunion"),
    "leftNotice": N_("{name} a quitté la réunion"),
    "handNotice": N_("{name} lève la main"),
    "mutedByHost": N_("Un hôte a coupé votre micro."),
    "qualityGood": N_("Connexion : bonne"),
    "qualityFair": N_("Connexion : moyenne"),
    "qualityPoor": N_("Connexion : mauvaise"),
    "qualityUnknown": N_("Connexion : en cours…"),
    "qualityDetail": N_("{rtt} ms, {loss} % de pertes"),
    "cameraN": N_("Caméra {n}"),
    "microphoneN": N_("Micro {n}"),
    "noCamera": N_("Sans caméra"),
    "noMicrophone": N_("Sans micro"),
    "mediaError": N_("Caméra ou micro inaccessible : vous pouvez rejoindre sans."),
    "screenError": N_("Le partage d’écran n’a pas pu démarrer."),
    "endedLeft": N_("Vous avez quitté la réunion."),
    "endedByHost": N_("La réunion est terminée."),
    "endedRemoved": N_("Un hôte vous a retiré de la réunion."),
    "endedRefused": N_("Un hôte n’a pas accepté votre entrée."),
    "endedFull": N_("La réunion est complète."),
    "endedForbidden": N_("Vous n’avez pas accès à cette réunion."),
    "endedLost": N_("La connexion à la réunion a été perdue."),
    "endedStopping": N_("Le serveur de réunion redémarre : rejoignez à nouveau dans un instant."),
    "endedUnavailable": N_(
        "Aucun serveur de réunion n’est disponible pour le moment : "
        "réessayez dans quelques minutes."
    ),
    "endedServerFull": N_(
        "Le serveur de réunion est complet pour le moment : réessayez dans quelques minutes."
    ),
    "retryLost": N_("La connexion à la réunion a été perdue : nouvelle tentative…"),
    "retryUnavailable": N_(
        "Aucun serveur de réunion n’est disponible pour le moment : nouvelle tentative…"
    ),
    "retryFull": N_("Le serveur de réunion est complet pour le moment : nouvelle tentative…"),
}


@dataclass(frozen=True)
class Notes:
    """The meeting-notes page shown beside the video."""

    page_id: int
    title: str
    url: str
    doc: str
    role: str

    @property
    def writable(self) -> bool:
        return self.role in ("owner", "admin", "editor")


def new_room_name() -> str:
    """A fresh ad-hoc meeting name: `meet-` and 10 random hex digits."""
    return f"meet-{secrets.token_hex(5)}"


async def _allowed_in_space(request: Request, user: CurrentUser, space_id: int) -> bool:
    engine = engine_of(request)
    if user.guest_link_id is not None:
        # A live link to the space or one of its pages: the lobby decides (sfu/endpoint.py).
        async with engine.connect() as conn:
            link = await live_link(conn, user.guest_link_id, utcnow())
        return link is not None and link.space_id == space_id
    return await space_role(engine, user, space_id) is not None


def _time_zone(user: CurrentUser) -> str:
    """The person's time zone for the chat's times: their profile's, else Paris (the client
    checks the name and falls back to Paris too)."""
    return user.time_zone or DEFAULT_ZONE


def _config(request: Request, room: str) -> dict[str, Any]:
    t = gettext_for(request).gettext
    config: dict[str, Any] = {
        "room": room,
        "strings": {key: t(text) for key, text in CLIENT_STRINGS.items()},
        "time_zone": _time_zone(require_user(request)),
    }
    return config


def _meeting_url(request: Request) -> str:
    """The meeting's shareable link: the public address (never the Host header) and path."""
    base: str = request.app.state.settings.public_base_url
    return base + request.url.path


def _notes_editor(
    user: CurrentUser, notes: Notes | None, *, pending_role: str | None = None
) -> EditorPage | None:
    """The page editor's settings for the notes panel (as the page view renders them); with
    no notes page yet, for someone who will create it on joining (`pending_role`: theirs)."""
    if notes is None and pending_role is None:
        return None
    return EditorPage(
        title=notes.title if notes else notes_title(today_in(user.time_zone)),
        doc=notes.doc if notes else "",
        role=notes.role if notes else str(pending_role),
        user_name=user.display_name,
        user_colour=caret_colour(f"user:{user.id}"),
        store_key=f"u{user.id}",
        upload_url="",
        export_markdown_url=f"{notes.url}/export.md" if notes else "",
        export_html_url=f"{notes.url}/export.html" if notes else "",
    )


async def _space_of(request: Request, user: CurrentUser) -> Space:
    """The space of the URL, when the user may enter its meeting; else 404."""
    space = await space_by_slug(engine_of(request), str(request.path_params["slug"]))
    if space is None or not await _allowed_in_space(request, user, space.id):
        raise HTTPException(404, gettext_for(request).gettext(NOT_FOUND))
    return space


async def _day_notes(
    request: Request, user: CurrentUser, space: Space, page_id: int | None
) -> Notes | None:
    context = await page_context(engine_of(request), user, page_id) if page_id else None
    if context is None:
        return None
    url = f"/espaces/{quote(space.slug)}/pages/{context.page_id}"
    return Notes(context.page_id, context.title, url, context.doc_name, context.role)


async def space_meeting(request: Request) -> Response:
    """The meeting room of a space, with the day's meeting notes of the space beside it."""
    user = require_user(request)
    engine = engine_of(request)
    space = await _space_of(request, user)
    page_id = await find_notes_page(engine, space.id, today_in(user.time_zone))
    notes = await _day_notes(request, user, space, page_id)
    pending_role = None
    if page_id is None and await may_create_notes(engine, user, space.id):
        pending_role = await space_role(engine, user, space.id)
    room = f"space-{space.id}"
    return render(
        request,
        "visio/meeting.html",
        {
            "title": space.name,
            "room": room,
            "space_url": f"/espaces/{quote(space.slug)}",
            "meeting_url": _meeting_url(request),
            "notes": notes,
            "notes_create_url": f"/espaces/{quote(space.slug)}/reunion/notes",
            "config": _config(request, room),
            "editor": _notes_editor(user, notes, pending_role=pending_role),
        },
    )


async def open_space_notes(request: Request) -> Response:
    """The day's notes page of a space's meeting, created if missing by someone who may write
    there (the meeting client posts this on joining): JSON for the editor beside the video."""
    user = require_user(request)
    engine = engine_of(request)
    space = await _space_of(request, user)
    page_id = await open_notes_page(engine, user, space.id, today_in(user.time_zone))
    notes = await _day_notes(request, user, space, page_id)
    if notes is None:
        t = gettext_for(request).gettext
        if await space_role(engine, user, space.id) is not None:  # a reader, before anyone wrote
            raise HTTPException(403, t(NOTES_FOR_WRITERS))
        raise HTTPException(404, t(NOT_FOUND))  # a guest of another page of the space
    return JSONResponse(
        {"doc": notes.doc, "url": notes.url, "title": notes.title, "role": notes.role}
    )


async def new_meeting(request: Request) -> Response:
    """Start an ad-hoc meeting: a new name, then its join page (its link is shared from there)."""
    user = require_user(request)
    if user.is_guest:
        raise HTTPException(403, gettext_for(request).gettext(NOT_FOUND))
    return RedirectResponse(f"/reunion/{new_room_name()}", status_code=303)


async def join_meeting(request: Request) -> Response:
    """The join page of a meeting by name (a space's room goes to the space's address)."""
    user = require_user(request)
    room = str(request.path_params["room"])
    t = gettext_for(request).gettext
    if not ROOM_NAME.match(room):
        raise HTTPException(404, t(NOT_FOUND))
    if room.startswith("space-"):
        # Only for those who may enter its meeting: the others must not learn from a room
        # number which spaces exist, nor their addresses.
        space = await space_by_id(engine_of(request), int(room.removeprefix("space-")))
        if space is None or not await _allowed_in_space(request, user, space.id):
            raise HTTPException(404, t(NOT_FOUND))
        return RedirectResponse(f"/espaces/{quote(space.slug)}/reunion", status_code=303)
    if user.is_guest:  # ad-hoc meetings are for signed-in agents (guests come by a space)
        raise HTTPException(404, t(NOT_FOUND))
    return render(
        request,
        "visio/meeting.html",
        {
            "title": t("Réunion {name}").format(name=room.removeprefix("meet-")),
            "room": room,
            "space_url": None,
            "meeting_url": _meeting_url(request),
            "notes": None,
            "config": _config(request, room),
            "editor": None,
        },
    )


def visio_routes() -> list[BaseRoute]:
    return [
        Route("/espaces/{slug}/reunion", space_meeting, methods=["GET"]),
        Route("/espaces/{slug}/reunion/notes", open_space_notes, methods=["POST"]),
        Route("/reunion/nouvelle", new_meeting, methods=["GET"]),
        Route("/reunion/{room}", join_meeting, methods=["GET"]),
    ]
