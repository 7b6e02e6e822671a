"""The share dialog of a space or a page ("Partager"): who has access and with which role, the
invitations, and the item's guest links, in one place.

It is a page (`/espaces/{slug}/partager`, `/espaces/{slug}/pages/{id}/partager`) that works
without JavaScript; `build/share.js` fetches it into a dialog over the page instead. Its forms
post to the members and links routes with a `retour` field naming the share page: those routes
then come back here (or show their refusal here) instead of the members or links page. The
rules stay in the services (`services`, `guest_links`); this module only gathers what to show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from web.auth.current import CurrentUser, require_user
from web.config import Settings
from web.i18n import gettext_for
from web.spaces import directory, guest_links, services
from web.spaces.access import at_least, page_context, space_role, utcnow
from web.spaces.endpoints import (
    ROLE_NAMES,
    engine_of,
    handles_errors,
    path_int,
    space_for,
    text,
)
from web.spaces.errors import Forbidden, NotFound
from web.spaces.services import Space
from web.spaces.tables import LINK_ROLES, SPACE_ROLES
from web.templating import render

STATUS_NAMES = {"active": "Actif", "expired": "Expiré", "revoked": "Révoqué"}
_PAGE_SHARE = re.compile(r"/pages/([1-9][0-9]{0,9})/partager")


@dataclass(frozen=True)
class Item:
    """What is shared: the space itself (`page_id` None) or one of its pages."""

    space: Space
    page_id: int | None
    title: str
    role: str  # the viewer's role on the item
    space_role: str  # the viewer's role in the space

    @property
    def share_url(self) -> str:
        base = f"/espaces/{self.space.slug}"
        return f"{base}/pages/{self.page_id}/partager" if self.page_id else f"{base}/partager"

    @property
    def url(self) -> str:
        base = f"/espaces/{self.space.slug}"
        return f"{base}/pages/{self.page_id}" if self.page_id else base


def share_return(space: Space, form: FormData) -> str | None:
    """The share page a form came from (its `retour` field), if it is one of this space's."""
    back = text(form, "retour")
    base = f"/espaces/{space.slug}"
    if back == f"{base}/partager":
        return back
    if back.startswith(base) and _PAGE_SHARE.fullmatch(back[len(base) :]):
        return back
    return None


def _refuse_link_guests(user: CurrentUser) -> None:
    if user.guest_link_id is not None:
        raise Forbidden("Un invité par lien n'accède qu'à l'élément partagé avec lui.")


async def space_item(request: Request) -> Item:
    user, space, role = await space_for(request)
    _refuse_link_guests(user)
    return Item(space, None, space.name, role, role)


async def page_item(request: Request, page_id: int) -> Item:
    user = require_user(request)
    engine = engine_of(request)
    context = await page_context(engine, user, page_id)
    if context is None or context.space.slug != request.path_params["slug"]:
        raise NotFound("Cette page n’existe pas ou vous n’y avez pas accès.")
    _refuse_link_guests(user)
    space = await services.space_by_id(engine, context.space.id)
    role = await space_role(engine, user, context.space.id)
    if space is None or role is None:
        raise NotFound("Espace introuvable.")
    return Item(space, page_id, context.title, context.role, role)


async def item_of(request: Request, target: str) -> Item:
    """The item of a share page address (one `share_return` accepted)."""
    match = _PAGE_SHARE.search(target)
    if match is None:
        return await space_item(request)
    return await page_item(request, int(match.group(1)))


async def render_share(
    request: Request,
    item: Item,
    *,
    error: str = "",
    new_url: str = "",
    status: int = 200,
) -> Response:
    """The share page of `item`; `error` is untranslated, `new_url` a link just created."""
    user = require_user(request)
    engine = engine_of(request)
    space = item.space
    can_manage = at_least(item.space_role, "admin") and not user.is_guest
    members = services.visible_members(space, user, await services.list_members(engine, space.id))
    query = request.query_params.get("q", "")[:200] if can_manage else ""
    candidates: list[directory.Person] = []
    if query:
        present = {m.user_id for m in members}
        candidates = [
            p for p in await directory.search_people(engine, user, query) if p.id not in present
        ]
    # Guest links: editors and up (not guests) see the item's; a space-wide link is the
    # admins' to make, a page's the editors'.
    sees_links = at_least(item.role, "editor") and not user.is_guest
    links = []
    if sees_links:
        links = [
            link
            for link in await guest_links.list_guest_links(engine, user, space.id)
            if link.page_id == item.page_id
        ]
    needed = "editor" if item.page_id else "admin"
    settings: Settings = request.app.state.settings
    return render(
        request,
        "spaces/share.html",
        {
            "item": item,
            "space": space,
            "members": members,
            "hidden_members": not space.guests_see_members
            and (user.is_guest or user.guest_link_id is not None),
            "roles": SPACE_ROLES,
            "role_names": ROLE_NAMES,
            "can_manage": can_manage,
            "query": query,
            "candidates": candidates,
            "sees_links": sees_links,
            "can_create_link": sees_links
            and at_least(item.space_role, needed)
            and not space.archived,
            "links": links,
            "link_roles": LINK_ROLES,
            "status_names": STATUS_NAMES,
            "now": utcnow(),
            "default_days": settings.guest_link_days,
            "max_days": guest_links.MAX_DAYS,
            "new_url": new_url,
            "error": gettext_for(request).gettext(error) if error else "",
            "invited": bool(request.query_params.get("invite")),
            "user": user,
        },
        status_code=status,
    )


@handles_errors
async def share_space(request: Request) -> Response:
    return await render_share(request, await space_item(request))


@handles_errors
async def share_page(request: Request) -> Response:
    return await render_share(request, await page_item(request, path_int(request, "page_id")))


def share_routes() -> list[BaseRoute]:
    slug = "/espaces/{slug}"
    return [
        Route(slug + "/partager", share_space, methods=["GET"]),
        Route(slug + "/pages/{page_id:int}/partager", share_page, methods=["GET"]),
    ]
