"""Opening a guest link: the same browser gets its guest account back (a cookie), another
browser is another person; new guest accounts are limited per client address and hour."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from starlette.applications import Starlette

from tests.support.page_reading import page_text
from tests.support.spaces_world import World, build_world, open_link
from tests.support.web_app import BASE_URL
from web.auth.sessions import COOKIE_NAME as SESSION_COOKIE
from web.i18n import COOKIE_NAME as LANGUAGE_COOKIE
from web.schema import users
from web.spaces import guest_links
from web.spaces.access import utcnow
from web.spaces.errors import Forbidden
from web.spaces.guest_links import TooManyGuestAccounts
from web.spaces.tables import guest_link_users

RETURNING = "Vous avez déjà ouvert ce lien dans ce navigateur"
TOO_MANY = "Trop de comptes invités ont été créés depuis votre adresse réseau en une heure."


async def new_link(world: World) -> guest_links.NewLink:
    return await guest_links.create_guest_link(
        world.app.state.engine, world.owner, world.space_id, role="reader", label="atelier"
    )


async def guests_of(world: World, link_id: int) -> list[tuple[int, str]]:
    """The guest accounts a link made: (id, display name)."""
    async with world.app.state.engine.connect() as conn:
        rows = await conn.execute(
            select(users.c.id, users.c.display_name)
            .join(guest_link_users, guest_link_users.c.user_id == users.c.id)
            .where(guest_link_users.c.guest_link_id == link_id)
            .order_by(users.c.id)
        )
        return [(int(r.id), str(r.display_name)) for r in rows]


async def signed_in_as(app: Starlette, client: httpx.AsyncClient) -> int | None:
    session = await app.state.sessions.lookup(client.cookies.get(SESSION_COOKIE, ""))
    return None if session is None else int(session.user_id)


async def test_a_browser_opening_a_link_again_gets_its_guest_account_back(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    link = await new_link(world)
    browser = new_client()
    first = await open_link(browser, link.token, "Paul Partenaire")
    assert first.status_code == 303
    made = await guests_of(world, link.link.id)
    assert len(made) == 1 and await signed_in_as(app, browser) == made[0][0]
    cookie = next(
        c for c in first.headers.get_list("set-cookie") if c.startswith("atelier_invite_")
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/invite" in cookie
    max_age = int(re.search(r"Max-Age=(\d+)", cookie).group(1))  # type: ignore[union-attr]
    assert timedelta(days=29) < timedelta(seconds=max_age) <= timedelta(days=30)

    # Still signed in: reopening the link changes nothing.
    assert (await open_link(browser, link.token, "Paul Partenaire")).status_code == 303
    # Session over (signed out, expired): the form says so, and the account comes back.
    browser.cookies.delete(SESSION_COOKIE)
    form = await browser.get(f"/invite/{link.token}")
    assert RETURNING in page_text(form) and 'value="Paul Partenaire"' in form.text
    again = await open_link(browser, link.token, "Paul P.")
    assert again.status_code == 303 and again.headers["location"] == f"/espaces/{world.slug}"
    assert await guests_of(world, link.link.id) == [(made[0][0], "Paul P.")]
    assert await signed_in_as(app, browser) == made[0][0]
    assert (await browser.get(f"/espaces/{world.slug}")).status_code == 200

    # Another browser is another person: an account of its own.
    other = new_client()
    other_form = await other.get(f"/invite/{link.token}")
    assert RETURNING not in page_text(other_form)
    assert (await open_link(other, link.token, "Marie")).status_code == 303
    assert [name for _id, name in await guests_of(world, link.link.id)] == ["Paul P.", "Marie"]


async def test_a_forged_or_other_links_cookie_gets_a_new_account_not_someone_elses(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    first, second = await new_link(world), await new_link(world)
    paul = new_client()
    await open_link(paul, first.token, "Paul")
    paul_cookie = paul.cookies.get(f"atelier_invite_{first.link.id}")
    assert paul_cookie is not None
    paul_id = (await guests_of(world, first.link.id))[0][0]
    # Paul's cookie in a fresh browser of his (so cookies set by hand do reach the server).
    again = new_client()
    again.cookies.set(f"atelier_invite_{first.link.id}", paul_cookie, domain="atelier.test")
    assert RETURNING in page_text(await again.get(f"/invite/{first.token}"))
    for value in (
        paul_cookie,  # a cookie of the other link, under this link's name
        f"{second.link.id}.{paul_id}",  # unsigned
        paul_cookie.replace(f"{first.link.id}.", f"{second.link.id}.", 1),  # bad signature
    ):
        intruder = new_client()
        intruder.cookies.set(f"atelier_invite_{second.link.id}", value, domain="atelier.test")
        assert RETURNING not in page_text(await intruder.get(f"/invite/{second.token}"))
        assert (await open_link(intruder, second.token, "Intrus")).status_code == 303
        assert await signed_in_as(app, intruder) not in (None, paul_id)
    assert [name for _i, name in await guests_of(world, second.link.id)] == ["Intrus"] * 3


async def test_new_guest_accounts_are_limited_per_address_and_hour(
    make_app: Callable[..., Awaitable[Starlette]],
) -> None:
    app = await make_app(guest_accounts_per_address=3)
    clients: list[httpx.AsyncClient] = []

    def browser(address: str = "198.51.100.5") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        clients.append(httpx.AsyncClient(transport=transport, base_url=BASE_URL))
        return clients[-1]

    try:
        world = await build_world(app, lambda: browser("192.0.2.1"))
        link = await new_link(world)
        first = browser()
        for person in (first, browser(), browser()):
            assert (await open_link(person, link.token, "Un partenaire")).status_code == 303
        refused = await open_link(browser(), link.token, "Le quatrième")
        assert refused.status_code == 429
        assert TOO_MANY in page_text(refused) and "Réessayez dans 60 minute(s)" in page_text(
            refused
        )
        assert 3500 < int(refused.headers["retry-after"]) <= 3601
        assert len(await guests_of(world, link.link.id)) == 3

        # A browser coming back is not a new account: it gets in.
        first.cookies.delete(SESSION_COOKIE)
        assert (await open_link(first, link.token, "Un partenaire")).status_code == 303
        # Another address is not held back by this one.
        assert (await open_link(browser("198.51.100.6"), link.token, "Ailleurs")).status_code == (
            303
        )
        english = browser()
        english.cookies.set(LANGUAGE_COOKIE, "en")
        refused_en = await open_link(english, link.token, "Fourth")
        assert refused_en.status_code == 429
        assert "Too many guest accounts were created from your network address" in (
            page_text(refused_en)
        )
    finally:
        for client in clients:
            await client.aclose()


async def test_the_limit_lifts_once_the_hour_has_passed(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    link = await new_link(world)
    engine = app.state.engine
    now = utcnow()
    for minute in range(2):
        await guest_links.open_guest_link(
            engine,
            link.token,
            "P",
            address="198.51.100.9",
            per_address=2,
            now=now + timedelta(minutes=minute),
        )
    with pytest.raises(TooManyGuestAccounts) as refused:
        await guest_links.open_guest_link(
            engine,
            link.token,
            "P",
            address="198.51.100.9",
            per_address=2,
            now=now + timedelta(minutes=30),
        )
    assert refused.value.minutes == 31  # until the first of the two leaves the hour
    later = now + timedelta(hours=1, seconds=1)
    opened = await guest_links.open_guest_link(
        engine, link.token, "P", address="198.51.100.9", per_address=2, now=later
    )
    assert not opened.reused
    async with engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(guest_link_users))).scalar()
    assert count is not None and count >= 3


async def test_a_deactivated_guest_account_does_not_come_back_through_its_cookie(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    link = await new_link(world)
    browser = new_client()
    await open_link(browser, link.token, "Paul")
    paul_id = (await guests_of(world, link.link.id))[0][0]
    async with app.state.engine.begin() as conn:
        await conn.execute(update(users).where(users.c.id == paul_id).values(status="deactivated"))
    browser.cookies.delete(SESSION_COOKIE)
    refused = await open_link(browser, link.token, "Paul")
    assert refused.status_code == 403 and "Votre compte invité a été désactivé" in page_text(
        refused
    )
    assert len(await guests_of(world, link.link.id)) == 1
    with pytest.raises(Forbidden):
        await guest_links.open_guest_link(
            app.state.engine, link.token, "Paul", returning_user=paul_id
        )
