"""What every spaces endpoint shares: the space and role a request acts in, the names shown
for roles and kinds, form fields, refusals turned into pages, redirects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from web.auth.current import CurrentUser, require_user
from web.i18n import gettext_for
from web.spaces import services
from web.spaces.access import at_least, space_role
from web.spaces.errors import Forbidden, InvalidInput, NotFound, SpaceError
from web.spaces.guest_links import EndedLink, LinkEnded
from web.spaces.services import Space
from web.templating import render

Endpoint = Callable[[Request], Awaitable[Response]]
MAX_FIELD = 10_000


def engine_of(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


def link_ended_page(request: Request, ended: EndedLink) -> Response:
    """The page of a guest link that was revoked or has expired, naming whom to ask (410)."""
    return render(
        request,
        "spaces/link_ended.html",
        {"ended": ended},
        status_code=410,
    )


def error_page(request: Request, error: SpaceError) -> Response:
    if isinstance(error, LinkEnded):
        return link_ended_page(request, error.ended)
    message = gettext_for(request).gettext(error.message)
    return render(
        request,
        "spaces/error.html",
        {"status": error.status, "message": message},
        status_code=error.status,
    )


def wants_json(request: Request) -> bool:
    """A script's request (the page tree's fetch): it asks for JSON, not a redirect or a page."""
    return request.headers.get("accept", "").startswith("application/json")


def handles_errors(endpoint: Endpoint) -> Endpoint:
    """Turn a refused operation into a clear 4xx page (or `{"error": ...}` for a script)."""

    @wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        try:
            return await endpoint(request)
        except SpaceError as error:
            if wants_json(request):
                message = gettext_for(request).gettext(error.message)
                return JSONResponse({"error": message}, status_code=error.status)
            return error_page(request, error)

    return wrapper


async def read_form(request: Request) -> FormData:
    try:
        return await request.form(max_files=0, max_fields=50)
    except Exception:  # malformed body: the user gets a 400, not a crash
        raise InvalidInput("Formulaire illisible : rechargez la page et recommencez.") from None


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def optional_int(form: FormData, name: str, label: str) -> int | None:
    raw = text(form, name).strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{label} : nombre entier attendu.") from None
    if not -(2**31) < value < 2**31:
        raise InvalidInput(f"{label} : valeur hors limites.")
    return value


def required_int(form: FormData, name: str, label: str) -> int:
    value = optional_int(form, name, label)
    if value is None:
        raise InvalidInput(f"{label} : ce champ est obligatoire.")
    return value


def path_int(request: Request, name: str) -> int:
    value = request.path_params[name]
    if not isinstance(value, int) or not 0 < value < 2**31:
        raise NotFound("Introuvable.")
    return value


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


ROLE_NAMES = {
    "owner": "Propriétaire",
    "admin": "Administrateur",
    "editor": "Éditeur",
    "commenter": "Commentateur",
    "reader": "Lecteur",
}
KIND_NAMES = {"project": "Projet", "community": "Communauté"}
VISIBILITY_NAMES = {
    "private": "Privé : visible des seuls membres",
    "listed": "Listé : visible de tous les agents dans l'annuaire des espaces",
}


async def space_for(request: Request, needed: str = "reader") -> tuple[CurrentUser, Space, str]:
    """The user, the space of the URL and the user's role, which must be `needed` or more."""
    user = require_user(request)
    engine = engine_of(request)
    space = await services.space_by_slug(engine, str(request.path_params["slug"]))
    role = None if space is None else await space_role(engine, user, space.id)
    if space is None or role is None:
        raise NotFound("Espace introuvable.")
    if not at_least(role, needed):
        raise Forbidden("Votre rôle dans cet espace ne permet pas cette action.")
    return user, space, role


def common(space: Space, role: str, **extra: Any) -> dict[str, Any]:
    return {
        "space": space,
        "role": role,
        "role_names": ROLE_NAMES,
        "kind_names": KIND_NAMES,
        "can_edit": at_least(role, "editor") and not space.archived,
        "can_manage": at_least(role, "admin"),
        **extra,
    }
