"""Sign-in is throttled per account and per address, across workers (in the database)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update
from starlette.applications import Starlette

from tests.web.conftest import BASE_URL, PASSWORD, page_text, sign_in
from web.schema import login_failures

MakeUser = Callable[..., Awaitable[int]]


async def test_five_wrong_passwords_lock_the_account_with_a_clear_message(
    app: Starlette, client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("tom@agri.gouv.fr")
    for _ in range(5):
        assert (await sign_in(client, "tom@agri.gouv.fr", "wrong guess")).status_code == 400
    locked = await sign_in(client, "tom@agri.gouv.fr", PASSWORD)  # even the right one
    assert locked.status_code == 429
    assert "Trop de tentatives de connexion infructueuses" in page_text(locked)
    assert int(locked.headers["retry-after"]) > 60
    assert (await client.get("/compte")).status_code == 303

    # Once the window has passed, the right password works again.
    async with app.state.engine.begin() as connection:
        await connection.execute(
            update(login_failures).values(at=datetime.now(UTC) - timedelta(minutes=16))
        )
    assert (await sign_in(client, "tom@agri.gouv.fr", PASSWORD)).status_code == 303


async def test_the_lock_holds_for_another_worker_on_the_same_database(
    app: Starlette, make_app: Callable[..., Awaitable[Starlette]], make_user: MakeUser
) -> None:
    await make_user("ugo@agri.gouv.fr")
    other_worker = await make_app()
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as one,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other_worker), base_url=BASE_URL
        ) as two,
    ):
        for _ in range(5):
            await sign_in(one, "ugo@agri.gouv.fr", "wrong guess")
        assert (await sign_in(two, "ugo@agri.gouv.fr", PASSWORD)).status_code == 429


async def test_one_address_guessing_many_accounts_is_stopped(
    make_app: Callable[..., Awaitable[Starlette]],
) -> None:
    app = await make_app(login_max_failures_per_address=6)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as client:
        for n in range(6):
            assert (await sign_in(client, f"user{n}@agri.gouv.fr", "guess")).status_code == 400
        response = await sign_in(client, "someone.else@agri.gouv.fr", "guess")
        assert response.status_code == 429


async def test_a_success_clears_the_accounts_failures(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("vera@agri.gouv.fr")
    for _ in range(4):
        await sign_in(client, "vera@agri.gouv.fr", "wrong guess")
    assert (await sign_in(client, "vera@agri.gouv.fr", PASSWORD)).status_code == 303
    client.cookies.clear()
    for _ in range(4):
        assert (await sign_in(client, "vera@agri.gouv.fr", "wrong guess")).status_code == 400
