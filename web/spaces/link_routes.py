"""Guest links over HTTP: the management page of a space, revocation, and opening a link."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.auth.current import start_session
from web.auth.sessions import SessionStore
from web.config import Settings
from web.i18n import gettext_for
from web.spaces import guest_links, services, tree
from web.spaces.access import at_least, utcnow
from web.spaces.errors import InvalidInput, NotFound, SpaceError
from web.spaces.guest_links import MAX_DAYS
from web.spaces.http import (
    engine_of,
    handles_errors,
    optional_int,
    path_int,
    read_form,
    see_other,
    text,
)
from web.spaces.invitations import base_url
from web.spaces.routes import ROLE_NAMES, common, space_for
from web.spaces.tables import LINK_ROLES
from web.templating import render

STATUS_NAMES = {"active": "Actif", "expired": "Expiré", "revoked": "Révoqué"}


def default_days(request: Request) -> int:
    settings: Settings = request.app.state.settings
    return settings.guest_link_days


def format_moment(moment: datetime) -> str:
    return moment.strftime("%d/%m/%Y %H:%M UTC")


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
            format_moment=format_moment,
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


def _open_form(request: Request, *, error: str = "", name: str = "", status: int = 200) -> Response:
    return render(
        request,
        "spaces/invite.html",
        {
            "token": request.path_params["token"],
            "error": gettext_for(request).gettext(error) if error else "",
            "name": name,
        },
        status_code=status,
    )


@handles_errors
async def open_link_form(request: Request) -> Response:
    await guest_links.find_live_link(engine_of(request), str(request.path_params["token"])[:200])
    return _open_form(request)


@handles_errors
async def open_link(request: Request) -> Response:
    token = str(request.path_params["token"])[:200]
    form = await read_form(request)
    name = text(form, "display_name")
    engine = engine_of(request)
    try:
        user_id, link = await guest_links.open_guest_link(engine, token, name)
    except InvalidInput as error:
        return _open_form(request, error=error.message, name=name[:100], status=error.status)
    space = await services.space_by_id(engine, link.space_id)
    if space is None:
        raise NotFound("Cet espace n'existe plus.")
    target = f"/espaces/{space.slug}"
    if link.page_id is not None:
        target += f"/pages/{link.page_id}"
    response = see_other(target)
    await start_session(request, response, user_id, guest_link_id=link.id)
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
