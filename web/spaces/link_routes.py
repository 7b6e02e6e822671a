"""Guest links over HTTP: the management page of a space, revocation, and opening a link.

Opening a link leaves a cookie naming the guest account it made (`atelier_invite_<link id>`,
signed, HttpOnly, for as long as the link lives): the same browser opening the link again gets
that account back instead of a new one; another browser is another person and gets its own.
"""

from __future__ import annotations

import logging

from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.auth.current import cookie_secure, current_user, start_session
from web.auth.forms import client_address
from web.auth.sessions import SessionStore
from web.config import Settings
from web.i18n import gettext_for
from web.spaces import guest_links, services, tree
from web.spaces.access import at_least, utcnow
from web.spaces.endpoints import (
    ROLE_NAMES,
    common,
    engine_of,
    handles_errors,
    optional_int,
    path_int,
    read_form,
    see_other,
    space_for,
    text,
)
from web.spaces.errors import InvalidInput, NotFound, SpaceError
from web.spaces.guest_links import MAX_DAYS, TooManyGuestAccounts
from web.spaces.invitations import base_url
from web.spaces.tables import LINK_ROLES
from web.templating import render

STATUS_NAMES = {"active": "Actif", "expired": "Expiré", "revoked": "Révoqué"}
GUEST_COOKIE_PREFIX = "atelier_invite_"
_GUEST_COOKIE_SALT = "atelier.guest-link.v1"
log = logging.getLogger("atelier.spaces")


def default_days(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return settings.guest_link_days


async def _links_page(
    request: Request,
    *,
    error: str = "",
    status: int = 200,
    new_url: str = "",
    values: dict[str, str] | None = None,
) -> Response:
    user, space, role = await space_for(request, "editor")
    engine = engine_of(request)
    links = await guest_links.list_guest_links(engine, user, space.id)
    nodes = tree.flatten(await tree.page_tree(engine, space.id))
    return render(
        request,
        "spaces/links.html",
        common(
            space,
            role,
            links=links,
            nodes=nodes,
            now=utcnow(),
            link_roles=LINK_ROLES,
            role_names=ROLE_NAMES,
            status_names=STATUS_NAMES,
            default_days=default_days(request),
            max_days=MAX_DAYS,
            error=gettext_for(request).gettext(error) if error else "",
            new_url=new_url,
            values=values or {"role": "reader", "item": ""},
            user=user,
            can_share_space=at_least(role, "admin"),
        ),
        status_code=status,
    )


@handles_errors
async def links_page(request: Request) -> Response:
    return await _links_page(request)


@handles_errors
async def create_link(request: Request) -> Response:
    user, space, _ = await space_for(request, "editor")
    form = await read_form(request)
    values = {k: text(form, k) for k in ("item", "role", "label", "days")}
    try:
        new = await guest_links.create_guest_link(
            engine_of(request),
            user,
            space.id,
            role=values["role"],
            page_id=optional_int(form, "item", "Élément partagé"),
            label=values["label"],
            days=optional_int(form, "days", "Durée"),
            default_days=default_days(request),
        )
    except SpaceError as error:
        if isinstance(error, NotFound) and not values["item"]:
            raise
        return await _links_page(request, error=error.message, status=error.status, values=values)
    url = f"{base_url(request)}/invite/{new.token}"
    return await _links_page(request, new_url=url, status=201)


@handles_errors
async def revoke_link(request: Request) -> Response:
    user, space, _ = await space_for(request, "editor")
    link_id = path_int(request, "link_id")
    engine = engine_of(request)
    await guest_links.revoke_guest_link(engine, user, link_id, space_id=space.id)
    # Sessions opened through the link end, and so do its live sockets, on every worker.
    sessions: SessionStore = request.app.state.sessions
    await sessions.revoke_guest_link(link_id)
    return see_other(f"/espaces/{space.slug}/liens")


# -- opening a link ----------------------------------------------------------------------


def _guest_signer(request: Request) -> Signer:
    return Signer(request.app.state.secret, salt=_GUEST_COOKIE_SALT)


def _remembered_guest(request: Request, link_id: int) -> int | None:
    """The guest account this browser opened the link with before: its session's, else the
    one its cookie names (checked against the link by the service)."""
    user = current_user(request)
    if user is not None and user.guest_link_id == link_id:
        return user.id
    raw = request.cookies.get(f"{GUEST_COOKIE_PREFIX}{link_id}", "")
    if not raw or len(raw) > 200:
        return None
    try:
        value = _guest_signer(request).unsign(raw).decode()
    except (BadSignature, UnicodeDecodeError):
        return None
    link_part, _, user_part = value.partition(".")
    if link_part != str(link_id) or not user_part.isdigit() or len(user_part) > 12:
        return None
    return int(user_part)


def _remember_guest(request: Request, response: Response, opened: guest_links.OpenedLink) -> None:
    link_id = opened.link.id
    value = _guest_signer(request).sign(f"{link_id}.{opened.user_id}").decode()
    max_age = max(0, int((opened.expires_at - utcnow()).total_seconds()))
    cookie = (
        f"{GUEST_COOKIE_PREFIX}{link_id}={value}; Path=/invite; Max-Age={max_age}; HttpOnly; "
        f"SameSite=Lax{cookie_secure(request.scope)}"
    )
    response.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))


def _open_form(
    request: Request,
    *,
    error: str = "",
    name: str = "",
    returning: bool = False,
    status: int = 200,
) -> Response:
    """The name form of a link; `error` is already translated."""
    return render(
        request,
        "spaces/invite.html",
        {
            "token": request.path_params["token"],
            "error": error,
            "name": name,
            "returning": returning,
        },
        status_code=status,
    )


@handles_errors
async def open_link_form(request: Request) -> Response:
    engine = engine_of(request)
    link = await guest_links.find_live_link(engine, str(request.path_params["token"])[:200])
    returning = await guest_links.returning_guest(
        engine, link.id, _remembered_guest(request, link.id)
    )
    if returning is not None and returning.active:
        return _open_form(request, name=returning.display_name, returning=True)
    return _open_form(request)


@handles_errors
async def open_link(request: Request) -> Response:
    token = str(request.path_params["token"])[:200]
    form = await read_form(request)
    name = text(form, "display_name")
    engine = engine_of(request)
    settings: Settings = request.app.state.settings
    t = gettext_for(request).gettext
    link = await guest_links.find_live_link(engine, token)
    remembered = _remembered_guest(request, link.id)
    address = client_address(request)
    try:
        opened = await guest_links.open_guest_link(
            engine,
            token,
            name,
            returning_user=remembered,
            address=address,
            per_address=settings.guest_accounts_per_address,
        )
    except InvalidInput as error:
        return _open_form(
            request,
            error=t(error.message),
            name=name[:100],
            returning=remembered is not None,
            status=error.status,
        )
    except TooManyGuestAccounts as error:
        log.warning("guest link %d: too many new guest accounts from %s", link.id, address)
        response = _open_form(
            request,
            error=t(error.message) % {"minutes": error.minutes},
            name=name[:100],
            status=error.status,
        )
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    space = await services.space_by_id(engine, opened.link.space_id)
    if space is None:
        raise NotFound("Cet espace n'existe plus.")
    target = f"/espaces/{space.slug}"
    if opened.link.page_id is not None:
        target += f"/pages/{opened.link.page_id}"
    response = see_other(target)
    user = current_user(request)
    if user is None or user.id != opened.user_id:  # already signed in as that guest: kept
        await start_session(request, response, opened.user_id, guest_link_id=opened.link.id)
    _remember_guest(request, response, opened)
    return response


def link_routes() -> list[BaseRoute]:
    slug = "/espaces/{slug}"
    return [
        Route(slug + "/liens", links_page, methods=["GET"]),
        Route(slug + "/liens", create_link, methods=["POST"]),
        Route(slug + "/liens/{link_id:int}/revoquer", revoke_link, methods=["POST"]),
        Route("/invite/{token}", open_link_form, methods=["GET"]),
        Route("/invite/{token}", open_link, methods=["POST"]),
    ]
