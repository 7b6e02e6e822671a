"""Forgotten password: a mailed link that works once and expires."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update
from starlette.applications import Starlette

from tests.support.forms import post_form
from tests.support.mails import link_in, outbox
from tests.support.page_reading import page_text
from tests.support.people import PASSWORD, sign_in
from web.schema import account_tokens

MakeUser = Callable[..., Awaitable[int]]
NEW = "un tout nouveau mot de passe"


async def _ask_for_link(app: Starlette, client: httpx.AsyncClient, email: str) -> str:
    page = await post_form(client, "/mot-de-passe-oublie", {"email": email})
    assert page.status_code == 200 and "un courriel vient de lui être envoyé" in page_text(page)
    mails = await outbox(app)
    assert mails and mails[0].to_address == email
    assert mails[0].subject == "Atelier : changer votre mot de passe"
    return link_in(mails[0], "/reinitialiser/")


async def test_the_reset_link_changes_the_password_once(
    app: Starlette,
    new_client: Callable[[], httpx.AsyncClient],
    make_user: MakeUser,
    signed_in: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    await make_user("paul@agri.gouv.fr")
    other_device = await signed_in(new_client(), "paul@agri.gouv.fr")
    client = new_client()
    link = await _ask_for_link(app, client, "paul@agri.gouv.fr")
    assert (await client.get(link)).status_code == 200

    done = await post_form(client, link, {"password": NEW, "password2": NEW})
    assert done.status_code == 303
    assert "Votre mot de passe a été changé" in page_text(
        await client.get(done.headers["location"])
    )
    assert (await sign_in(client, "paul@agri.gouv.fr", PASSWORD)).status_code == 400
    assert (await sign_in(client, "paul@agri.gouv.fr", NEW)).status_code == 303
    # Whoever was signed in with the old password is out.
    assert (await other_device.get("/compte")).status_code == 303

    again = await new_client().get(link)
    assert again.status_code == 410 and "Ce lien n'est plus valable" in page_text(again)
    third = new_client()
    reused = await post_form(
        third, link, {"password": "encore un autre mot", "password2": "encore un autre mot"}
    )
    assert reused.status_code == 410
    assert (await sign_in(third, "paul@agri.gouv.fr", NEW)).status_code == 303


async def test_an_expired_reset_link_is_refused(
    app: Starlette, client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("quentin@agri.gouv.fr")
    link = await _ask_for_link(app, client, "quentin@agri.gouv.fr")
    async with app.state.engine.begin() as connection:
        await connection.execute(
            update(account_tokens).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert (await client.get(link)).status_code == 410
    response = await post_form(client, link, {"password": NEW, "password2": NEW})
    assert response.status_code == 410
    assert (await sign_in(client, "quentin@agri.gouv.fr", NEW)).status_code == 400


async def test_asking_for_an_unknown_address_says_the_same_and_sends_nothing(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    page = await post_form(client, "/mot-de-passe-oublie", {"email": "ghost@agri.gouv.fr"})
    assert page.status_code == 200 and "un courriel vient de lui être envoyé" in page_text(page)
    assert await outbox(app) == []


@pytest.mark.parametrize(
    ("password", "again", "message"),
    [
        ("court", "court", "au moins 12 caractères"),
        (NEW, NEW + "x", "ne sont pas identiques"),
    ],
)
async def test_a_weak_or_mistyped_new_password_is_refused_and_the_link_still_works(
    app: Starlette,
    client: httpx.AsyncClient,
    make_user: MakeUser,
    password: str,
    again: str,
    message: str,
) -> None:
    await make_user("rita@agri.gouv.fr")
    link = await _ask_for_link(app, client, "rita@agri.gouv.fr")
    response = await post_form(client, link, {"password": password, "password2": again})
    assert response.status_code == 400 and message in page_text(response)
    assert (await client.get(link)).status_code == 200


async def test_the_mail_link_uses_the_public_url_when_a_proxy_asks_by_another_name(
    make_app: Callable[..., Awaitable[Starlette]],
) -> None:
    from web.accounts.users import create_user

    app = await make_app(public_url="https://atelier.example.gouv.fr", allowed_hosts=("internal",))
    await create_user(
        app.state.engine, email="sam@agri.gouv.fr", display_name="Sam", password=PASSWORD
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://internal:8000"
    ) as client:
        await post_form(client, "/mot-de-passe-oublie", {"email": "sam@agri.gouv.fr"})
    (mail,) = await outbox(app)
    assert "https://atelier.example.gouv.fr/reinitialiser/" in mail.body


async def test_nobody_can_flood_an_inbox_with_reset_mails(
    app: Starlette, client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("ulla@agri.gouv.fr")
    for _ in range(5):
        await post_form(client, "/mot-de-passe-oublie", {"email": "ulla@agri.gouv.fr"})
    flood = await post_form(client, "/mot-de-passe-oublie", {"email": "ulla@agri.gouv.fr"})
    assert flood.status_code == 429 and "Trop de demandes" in flood.text
    assert len(await outbox(app)) == 5
