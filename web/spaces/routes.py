"""HTTP routes of spaces: lists, creation, space home, settings, members, pages tree, trash.

Thin: read the form, call a service, redirect (303) or render. Every `SpaceError` becomes a
page with its status and message; nothing here answers 500 for bad input.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from web.auth.current import CurrentUser, require_user
from web.i18n import gettext_for
from web.live_access import doc_tag, recheck, space_tag, user_tag
from web.social import activity
from web.spaces import directory, guest_links, services, tree
from web.spaces.access import at_least, utcnow
from web.spaces.directory_routes import directory_routes
from web.spaces.endpoints import (
    KIND_NAMES,
    ROLE_NAMES,
    VISIBILITY_NAMES,
    common,
    engine_of,
    handles_errors,
    optional_int,
    path_int,
    read_form,
    required_int,
    see_other,
    space_for,
    text,
    wants_json,
)
from web.spaces.errors import Forbidden, InvalidInput, NotFound, SpaceError
from web.spaces.invitations import invitation_routes, send_invitation
from web.spaces.link_routes import link_routes
from web.spaces.services import Space
from web.spaces.share_routes import item_of, render_share, share_return, share_routes
from web.spaces.tables import SPACE_KINDS, SPACE_ROLES, VISIBILITIES
from web.templating import render

Endpoint = Callable[[Request], Awaitable[Response]]
MAX_FIELD = 10_000


def _item_url(space: Space, page_id: int | None) -> str:
    return f"/espaces/{space.slug}" + ("" if page_id is None else f"/pages/{page_id}")


# -- lists and creation ------------------------------------------------------------------


@handles_errors
async def spaces_index(request: Request) -> Response:
    user = require_user(request)
    engine = engine_of(request)
    link = await guest_links.require_live_guest_link(engine, user)
    if link is not None:
        # A link guest's home (the header's "Accueil" and logo lead here): what was shared.
        space = await services.space_by_id(engine, link.space_id)
        if space is None:
            raise NotFound("Cet espace n'existe plus.")
        return see_other(_item_url(space, link.page_id))
    query = request.query_params.get("q", "")[:200]
    mine = await services.my_spaces(engine, user)
    member_of = {item.space.id for item in mine}
    listed = [s for s in await services.listed_spaces(engine, user, query) if s.id not in member_of]
    return render(
        request,
        "spaces/index.html",
        {
            "mine": mine,
            "listed": listed,
            "query": query,
            "role_names": ROLE_NAMES,
            "kind_names": KIND_NAMES,
            "can_create": not user.is_guest,
        },
    )


def _new_form(
    request: Request, values: dict[str, str], error: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "spaces/new.html",
        {
            "values": values,
            "error": gettext_for(request).gettext(error) if error else "",
            "kinds": SPACE_KINDS,
            "kind_names": KIND_NAMES,
            "visibilities": VISIBILITIES,
            "visibility_names": VISIBILITY_NAMES,
        },
        status_code=status,
    )


@handles_errors
async def new_space_form(request: Request) -> Response:
    user = require_user(request)
    if user.is_guest or user.guest_link_id is not None:
        raise Forbidden("Les invités ne peuvent pas créer d'espace.")
    return _new_form(request, {"kind": "project", "visibility": "private"})


@handles_errors
async def create_space(request: Request) -> Response:
    user = require_user(request)
    form = await read_form(request)
    values = {k: text(form, k) for k in ("name", "kind", "description", "visibility")}
    try:
        space = await services.create_space(engine_of(request), user, **values)
    except InvalidInput as error:
        return _new_form(request, values, error.message, error.status)
    return see_other(f"/espaces/{space.slug}")


# -- space home and settings ------------------------------------------------------------


# Latest entries of the activity feed on a space's home (all of it: /api/espaces/{slug}/activite).
HOME_ACTIVITY = 8


@handles_errors
async def space_home(request: Request) -> Response:
    user = require_user(request)
    link = await guest_links.require_live_guest_link(engine_of(request), user)
    if link is not None and link.page_id is not None:
        # A guest invited to one page lands on it (from its breadcrumbs, say).
        space = await services.space_by_id(engine_of(request), link.space_id)
        if space is not None and space.slug == request.path_params["slug"]:
            return see_other(f"/espaces/{space.slug}/pages/{link.page_id}")
    user, space, role = await space_for(request)
    engine = engine_of(request)
    pages = await tree.page_tree(engine, space.id)
    members = await services.list_members(engine, space.id)
    is_member = any(m.user_id == user.id for m in members)
    shown = services.visible_members(space, user, members)
    # A link guest (no row of its own) sees nobody listed: say why rather than "no members".
    hidden = len(shown) < len(members)
    feed = None
    if not services.members_hidden_from(space, user):  # the activity names the members
        feed = await activity.feed(
            engine, user, space.id, space.slug, utcnow(), limit=HOME_ACTIVITY
        )
    return render(
        request,
        "spaces/home.html",
        common(
            space,
            role,
            pages=pages,
            members=shown,
            hidden_members=hidden,
            is_member=is_member,
            user=user,
            activity=feed["entries"] if feed else [],
            activity_hidden=services.members_hidden_from(space, user),
            tree_nodes=pages,
            trashed=_trashed(request),
        ),
    )


@handles_errors
async def settings_form(request: Request) -> Response:
    _, space, role = await space_for(request, "admin")
    return render(
        request,
        "spaces/settings.html",
        common(
            space,
            role,
            values={
                "name": space.name,
                "description": space.description,
                "visibility": space.visibility,
                "guests_see_members": space.guests_see_members,
            },
            error="",
            visibilities=VISIBILITIES,
            visibility_names=VISIBILITY_NAMES,
        ),
    )


@handles_errors
async def update_settings(request: Request) -> Response:
    user, space, role = await space_for(request, "admin")
    form = await read_form(request)
    values = {k: text(form, k) for k in ("name", "description", "visibility")}
    guests_see_members = text(form, "guests_see_members") == "1"
    try:
        await services.update_space(
            engine_of(request), user, space.id, **values, guests_see_members=guests_see_members
        )
    except InvalidInput as error:
        return render(
            request,
            "spaces/settings.html",
            common(
                space,
                role,
                values={**values, "guests_see_members": guests_see_members},
                error=gettext_for(request).gettext(error.message),
                visibilities=VISIBILITIES,
                visibility_names=VISIBILITY_NAMES,
            ),
            status_code=error.status,
        )
    return see_other(f"/espaces/{space.slug}")


@handles_errors
async def archive(request: Request) -> Response:
    user, space, _ = await space_for(request, "admin")
    form = await read_form(request)
    archived = text(form, "archive") == "1"
    await services.set_archived(engine_of(request), user, space.id, archived)
    # Open sockets of the space check their access again: read-only once archived.
    await recheck(request, space_tag(space.id), reason="space archived")
    return see_other(f"/espaces/{space.slug}")


# -- members -----------------------------------------------------------------------------


async def _members_page(
    request: Request, *, error: str = "", status: int = 200, invited: str = ""
) -> Response:
    user, space, role = await space_for(request)
    if user.guest_link_id is not None:
        raise Forbidden("Un invité par lien n'accède qu'à l'élément partagé avec lui.")
    engine = engine_of(request)
    query = request.query_params.get("q", "")[:200]
    candidates: list[directory.Person] = []
    members = services.visible_members(space, user, await services.list_members(engine, space.id))
    if query and at_least(role, "admin") and not user.is_guest:
        present = {m.user_id for m in members}
        candidates = [
            p for p in await directory.search_people(engine, user, query) if p.id not in present
        ]
    return render(
        request,
        "spaces/members.html",
        common(
            space,
            role,
            members=members,
            roles=SPACE_ROLES,
            query=query,
            candidates=candidates,
            error=gettext_for(request).gettext(error) if error else "",
            invited=invited,
            user=user,
        ),
        status_code=status,
    )


@handles_errors
async def members_page(request: Request) -> Response:
    return await _members_page(request)


def _member_action(
    action: Callable[[Request, CurrentUser, Space, FormData], Awaitable[str | None]],
) -> Endpoint:
    """A members form: on a refusal, the members page again with the message."""

    @handles_errors
    async def endpoint(request: Request) -> Response:
        user, space, _ = await space_for(request)
        form = await read_form(request)
        # From the share dialog: back to it, refusals shown in it.
        back = share_return(space, form)
        try:
            target = await action(request, user, space, form)
        except SpaceError as error:
            if isinstance(error, NotFound):
                raise
            if back is not None:
                item = await item_of(request, back)
                return await render_share(request, item, error=error.message, status=error.status)
            return await _members_page(request, error=error.message, status=error.status)
        if back is not None:
            invited = bool(target and target.endswith("?invite=1"))
            return see_other(back + ("?invite=1" if invited else ""))
        return see_other(target or f"/espaces/{space.slug}/membres")

    return endpoint


async def _add(request: Request, user: CurrentUser, space: Space, form: FormData) -> str | None:
    await services.add_member(
        engine_of(request),
        user,
        space.id,
        required_int(form, "user_id", "Personne"),
        text(form, "role"),
    )
    return None


async def _invite(request: Request, user: CurrentUser, space: Space, form: FormData) -> str | None:
    invitation = await services.invite_by_email(
        engine_of(request),
        user,
        space.id,
        text(form, "email"),
        text(form, "role"),
        display_name=text(form, "display_name"),
    )
    await send_invitation(request, user, space, text(form, "email"), invitation)
    return f"/espaces/{space.slug}/membres?invite=1"


async def _change_role(
    request: Request, user: CurrentUser, space: Space, form: FormData
) -> str | None:
    member_id = required_int(form, "user_id", "Personne")
    await services.change_role(engine_of(request), user, space.id, member_id, text(form, "role"))
    # Their open sockets check their access again: a reader's stop writing at once.
    await recheck(request, user_tag(member_id), space_tag(space.id), reason="role changed")
    return None


async def _remove(request: Request, user: CurrentUser, space: Space, form: FormData) -> str | None:
    member_id = required_int(form, "user_id", "Personne")
    await services.remove_member(engine_of(request), user, space.id, member_id)
    await recheck(
        request, user_tag(member_id), space_tag(space.id), reason="removed from the space"
    )
    return None


async def _leave(request: Request, user: CurrentUser, space: Space, form: FormData) -> str | None:
    await services.leave_space(engine_of(request), user, space.id)
    await recheck(request, user_tag(user.id), space_tag(space.id), reason="left the space")
    return "/espaces"


# -- pages tree --------------------------------------------------------------------------


def _trashed(request: Request) -> int | None:
    """The page just put in the trash (`?corbeille=ID`), whose toast offers to undo it."""
    raw = request.query_params.get("corbeille", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10):
        return None
    return int(raw) if 0 < int(raw) < 2**31 else None


def _page_url(space: Space, page_id: int) -> str:
    return f"/espaces/{space.slug}/pages/{page_id}"


@handles_errors
async def organise_page(request: Request) -> Response:
    _, space, role = await space_for(request, "editor")
    roots = await tree.page_tree(engine_of(request), space.id)
    return render(
        request,
        "spaces/organise.html",
        common(
            space,
            role,
            nodes=tree.flatten(roots),
            tree_nodes=roots,
            trashed=_trashed(request),
        ),
    )


@handles_errors
async def create_page(request: Request) -> Response:
    user, space, _ = await space_for(request, "editor")
    form = await read_form(request)
    page = await tree.create_page(
        engine_of(request),
        user,
        space.id,
        text(form, "title"),
        parent_id=optional_int(form, "parent_id", "Page parente"),
    )
    if wants_json(request):
        return JSONResponse({"id": page.id, "title": page.title, "url": _page_url(space, page.id)})
    return see_other(_page_url(space, page.id))


async def _tree_target(request: Request) -> tuple[CurrentUser, Space, int, FormData]:
    user, space, _ = await space_for(request, "editor")
    form = await read_form(request)
    return user, space, path_int(request, "page_id"), form


def _back(space: Space, form: FormData, query: str = "") -> str:
    where = "/organiser" if text(form, "back") == "organiser" else ""
    return "/espaces/" + space.slug + where + query


def _done(request: Request, space: Space, form: FormData, **answer: object) -> Response:
    """Where a tree form goes once done: back to its page, or a JSON answer for a script."""
    if wants_json(request):
        return JSONResponse({"ok": True, **answer})
    return see_other(_back(space, form))


@handles_errors
async def rename_page(request: Request) -> Response:
    user, space, page_id, form = await _tree_target(request)
    title = await tree.rename_page(engine_of(request), user, page_id, text(form, "title"))
    return _done(request, space, form, title=title)


@handles_errors
async def move_page(request: Request) -> Response:
    user, space, page_id, form = await _tree_target(request)
    parent_id = optional_int(form, "parent_id", "Page parente")
    position = optional_int(form, "position", "Position")
    await tree.move_page(engine_of(request), user, page_id, parent_id, position=position)
    return _done(request, space, form)


@handles_errors
async def shift_page(request: Request) -> Response:
    user, space, page_id, form = await _tree_target(request)
    direction = text(form, "direction")
    if direction not in ("up", "down"):
        raise InvalidInput("Direction : « up » ou « down ».")
    await tree.shift_page(engine_of(request), user, page_id, -1 if direction == "up" else 1)
    return _done(request, space, form)


@handles_errors
async def trash_page(request: Request) -> Response:
    user, space, page_id, form = await _tree_target(request)
    documents = await tree.trash_page(engine_of(request), user, page_id)
    for document in documents:
        await recheck(request, doc_tag(document), reason="page moved to the trash")
    if wants_json(request):
        return JSONResponse({"ok": True})
    # The page it lands on offers to undo (a toast with "Annuler"): never silently gone.
    return see_other(_back(space, form, f"?corbeille={page_id}"))


@handles_errors
async def trash_list(request: Request) -> Response:
    user, space, role = await space_for(request, "editor")
    pages = await tree.list_trash(engine_of(request), user, space.id)
    return render(request, "spaces/trash.html", common(space, role, pages=pages))


@handles_errors
async def restore_page(request: Request) -> Response:
    user, space, page_id, _ = await _tree_target(request)
    await tree.restore_page(engine_of(request), user, page_id)
    return see_other(_page_url(space, page_id))


def spaces_routes() -> list[BaseRoute]:
    """The routes of spaces (mount in `create_app`)."""
    slug = "/espaces/{slug}"
    page = slug + "/pages/{page_id:int}"
    return [
        Route("/espaces", spaces_index, methods=["GET"]),
        Route("/espaces", create_space, methods=["POST"]),
        Route("/espaces/nouveau", new_space_form, methods=["GET"]),
        Route(slug, space_home, methods=["GET"]),
        Route(slug + "/parametres", settings_form, methods=["GET"]),
        Route(slug + "/parametres", update_settings, methods=["POST"]),
        Route(slug + "/archiver", archive, methods=["POST"]),
        Route(slug + "/membres", members_page, methods=["GET"]),
        Route(slug + "/membres/ajouter", _member_action(_add), methods=["POST"]),
        Route(slug + "/membres/inviter", _member_action(_invite), methods=["POST"]),
        Route(slug + "/membres/role", _member_action(_change_role), methods=["POST"]),
        Route(slug + "/membres/retirer", _member_action(_remove), methods=["POST"]),
        Route(slug + "/quitter", _member_action(_leave), methods=["POST"]),
        Route(slug + "/organiser", organise_page, methods=["GET"]),
        Route(slug + "/pages", create_page, methods=["POST"]),
        Route(page + "/renommer", rename_page, methods=["POST"]),
        Route(page + "/deplacer", move_page, methods=["POST"]),
        Route(page + "/ordre", shift_page, methods=["POST"]),
        Route(page + "/corbeille", trash_page, methods=["POST"]),
        Route(slug + "/corbeille", trash_list, methods=["GET"]),
        Route(page + "/restaurer", restore_page, methods=["POST"]),
        *link_routes(),
        *share_routes(),
        *invitation_routes(),
        *directory_routes(),
    ]
