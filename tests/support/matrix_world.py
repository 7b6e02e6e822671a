"""The world of the authorisation matrix: `spaces_world`'s space and people, plus people whose
session no longer counts, each with a browser of their own (own address, own cookies).

Who is who, by the three-letter column the matrix's tables give them:

    own adm edi com rea   the space's owner, admin, editor, commenter, reader (agents)
    out                   an agent who is not a member
    iad                   an instance administrator who is not a member
    slr                   a guest through a reader link to the whole space
    ple                   a guest through an editor link to one page (the shared page)
    ano                   nobody signed in
    sgo exp dea pen       a session that no longer counts: signed out, expired, of an account
                          deactivated since (status changed in the database, the session left
                          open), of an account still pending approval. Each of them is an
                          instance administrator and an admin of the space, so that a dead
                          session that still counted would be let in almost everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update
from starlette.applications import Starlette

from tests.support.people import Who
from tests.support.spaces_world import World, build_world
from tests.support.web_app import BASE_URL
from web.accounts import first_admin
from web.accounts import users as accounts
from web.auth.sessions import COOKIE_NAME, SessionStore, now_utc
from web.schema import users
from web.spaces import services

# The table's columns, in order, and the actor each stands for.
COLUMNS: dict[str, str] = {
    "own": "owner",
    "adm": "admin",
    "edi": "editor",
    "com": "commenter",
    "rea": "reader",
    "out": "outsider",
    "iad": "instance_admin",
    "slr": "space_link_reader",
    "ple": "page_link_editor",
    "ano": "anonymous",
    "sgo": "signed_out",
    "exp": "expired",
    "dea": "deactivated",
    "pen": "pending",
}
DEAD_SESSIONS = ("signed_out", "expired", "deactivated", "pending")


@dataclass
class MatrixWorld:
    """A `World` with every actor of `COLUMNS`, their session cookies and addresses."""

    app: Starlette
    world: World
    # The session cookie each actor's browser holds ("" for anonymous).
    cookies: dict[str, str]
    # A first-administrator link made while the instance had no administrator.
    first_admin_token: str
    # What a case prepared before its requests: for an actor (by their name: a live topic,
    # say), or once for all of them (by its own name).
    prepared: dict[str, Any] = field(default_factory=dict)

    @property
    def clients(self) -> dict[str, httpx.AsyncClient]:
        return self.world.clients

    @property
    def slug(self) -> str:
        return self.world.slug

    @property
    def space_id(self) -> int:
        return self.world.space_id

    @property
    def owner(self) -> Who:
        return self.world.owner

    def person(self, actor: str) -> Who | None:
        return self.world.people.get(actor)

    def fields(self, actor: str) -> dict[str, Any]:
        """What answers and effects of the matrix may name: `{slug}`, `{page}`, `{me}`..."""
        me = self.person(actor)
        sessions: SessionStore = self.app.state.sessions
        return {
            "actor": actor,
            "slug": self.slug,
            "space": self.space_id,
            "page": self.world.page.id,
            "doc": self.world.page.doc_name,
            "owner": self.owner.id,
            "me": me.id if me else None,
            "session": sessions.session_id(self.cookies[actor]) if self.cookies[actor] else None,
            "first_admin": self.first_admin_token,
        }


class Browsers:
    """Makes the actors' browsers: each its own client address (limits per address are not
    shared), none following redirects; all closed by `close()`."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.made: list[httpx.AsyncClient] = []

    def __call__(self) -> httpx.AsyncClient:
        address = f"10.0.{len(self.made) // 250}.{len(self.made) % 250 + 1}"
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=(address, 40000)),
            base_url=BASE_URL,
            follow_redirects=False,
        )
        self.made.append(client)
        return client

    async def close(self) -> None:
        for client in self.made:
            await client.aclose()
        self.made.clear()


def keep_cookie(client: httpx.AsyncClient, value: str) -> None:
    """The browser keeps sending this session cookie, though the app asks it to drop it (as
    it does for a dead one): a stolen or stale cookie is sent again and again."""

    async def restore(response: httpx.Response) -> None:
        client.cookies.delete(COOKIE_NAME)
        client.cookies.set(COOKIE_NAME, value)

    client.event_hooks["response"].append(restore)


async def _dead_session(
    app: Starlette, world: World, browser: httpx.AsyncClient, actor: str
) -> str:
    """An instance admin and space admin whose session is then made not to count."""
    engine = app.state.engine
    sessions: SessionStore = app.state.sessions
    status = "pending" if actor == "pending" else "active"
    user_id = await accounts.create_user(
        engine,
        email=f"{actor.replace('_', '.')}.{uuid.uuid4().hex[:6]}@example.gouv.fr",
        display_name=actor.replace("_", " ").title(),
        role="admin",
        status=status,
    )
    person = Who(user_id, "admin", None, actor)
    await services.add_member(engine, world.owner, world.space_id, user_id, "admin")
    world.people[actor] = person
    if actor == "expired":
        opened = now_utc() - sessions.lifetime - timedelta(hours=1)
        cookie = await sessions.open(user_id, "tests", now=opened)
    else:
        cookie = await sessions.open(user_id, "tests")
    if actor == "signed_out":
        session_id = sessions.session_id(cookie)
        assert session_id is not None
        await sessions.revoke(session_id)
    if actor == "deactivated":
        async with engine.begin() as conn:
            await conn.execute(
                update(users).where(users.c.id == user_id).values(status="deactivated")
            )
    browser.cookies.set(COOKIE_NAME, cookie)
    keep_cookie(browser, cookie)
    return cookie


async def build_matrix_world(
    app: Starlette, browsers: Callable[[], httpx.AsyncClient]
) -> MatrixWorld:
    """The world of `spaces_world.build_world`, and the dead-session actors; on an instance
    whose first-administrator link was made before any administrator existed."""
    token = await first_admin.issue_while_no_admin(app.state.engine)
    assert token is not None, "the matrix starts from an empty instance"
    world = await build_world(app, browsers)
    cookies = {
        actor: world.clients[actor].cookies.get(COOKIE_NAME) or ""
        for actor in COLUMNS.values()
        if actor in world.clients
    }
    for actor in DEAD_SESSIONS:
        browser = browsers()
        world.clients[actor] = browser
        cookies[actor] = await _dead_session(app, world, browser, actor)
    cookies["anonymous"] = ""
    assert set(COLUMNS.values()) == set(world.clients) == set(cookies)
    return MatrixWorld(app, world, cookies, token)
