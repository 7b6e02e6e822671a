"""The account flows on PostgreSQL (skipped when none answers on 127.0.0.1:5432)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.forms import post_form
from tests.support.mails import link_in, outbox
from tests.support.people import PASSWORD, sign_in
from tests.support.web_app import BASE_URL
from web.accounts.users import create_user

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_app(
    postgres_database: str, make_app: Callable[..., Awaitable[Starlette]]
) -> Starlette:
    return await make_app(database_url=postgres_database)


@pytest.fixture
async def browsers(pg_app: Starlette) -> AsyncIterator[Callable[[], httpx.AsyncClient]]:
    made: list[httpx.AsyncClient] = []

    def new() -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=pg_app), base_url=BASE_URL)
        made.append(client)
        return client

    yield new
    for client in made:
        await client.aclose()


async def test_sign_in_throttle_reset_and_sign_out_everywhere_on_postgresql(
    pg_app: Starlette, browsers: Callable[[], httpx.AsyncClient]
) -> None:
    await create_user(
        pg_app.state.engine, email="pg@agri.gouv.fr", display_name="Pg", password=PASSWORD
    )
    laptop, phone, attacker = browsers(), browsers(), browsers()
    assert (await sign_in(laptop, "pg@agri.gouv.fr")).status_code == 303
    assert (await sign_in(phone, "pg@agri.gouv.fr")).status_code == 303
    for _ in range(5):
        assert (await sign_in(attacker, "pg@agri.gouv.fr", "guess guess")).status_code == 400
    assert (await sign_in(attacker, "pg@agri.gouv.fr", "guess guess")).status_code == 429

    await post_form(laptop, "/mot-de-passe-oublie", {"email": "pg@agri.gouv.fr"})
    (mail,) = await outbox(pg_app)
    new = "nouveau mot de passe pg"
    link = link_in(mail, "/reinitialiser/")
    assert (await post_form(laptop, link, {"password": new, "password2": new})).status_code == 303
    assert (await post_form(laptop, link, {"password": new, "password2": new})).status_code == 410
    # The reset signed every device out.
    assert (await phone.get("/compte")).status_code == 303


async def test_registration_approval_on_postgresql(
    pg_app: Starlette, browsers: Callable[[], httpx.AsyncClient]
) -> None:
    await create_user(
        pg_app.state.engine,
        email="admin@agri.gouv.fr",
        display_name="Admin",
        password=PASSWORD,
        role="admin",
    )
    applicant, admin = browsers(), browsers()
    pw = "mot de passe candidat"
    await post_form(
        applicant,
        "/inscription",
        {"email": "c@example.org", "display_name": "C", "password": pw, "password2": pw},
    )
    await sign_in(admin, "admin@agri.gouv.fr")
    page = await admin.get("/admin/inscriptions")
    assert "c@example.org" in page.text
    from web.accounts.users import find_by_email

    user = await find_by_email(pg_app.state.engine, "c@example.org")
    assert user is not None
    await post_form(admin, f"/admin/inscriptions/{user.id}/accepter")
    assert (await sign_in(applicant, "c@example.org", pw)).status_code == 303
