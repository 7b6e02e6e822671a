"""An invitation by email opens the space once: whoever finds the mail afterwards is told the
link was used (410), in French or English, and an administrator can send a new one."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from tests.support.forms import post_form, token_in
from tests.support.page_reading import page_text
from tests.support.spaces_world import World, build_world
from web.auth.sessions import COOKIE_NAME as COOKIE_NAME_SESSION
from web.i18n import COOKIE_NAME
from web.schema import users
from web.spaces import services
from web.spaces.access import utcnow
from web.spaces.errors import Forbidden, Gone
from web.spaces.tables import memberships

SPENT_FR = (
    "Cette invitation a déjà été utilisée : demandez-en une nouvelle "
    "aux administrateurs de l'espace."
)
SPENT_EN = "This invitation was already used: ask the space's administrators for a new one."


async def invite(world: World, email: str) -> str:
    """Invite `email` as the space's admin; the path of the link in the mail."""
    response = await post_form(
        world.clients["admin"],
        f"/espaces/{world.slug}/membres/inviter",
        {"email": email, "role": "commenter", "display_name": "Paul"},
    )
    assert response.status_code == 303, response.text
    mail = (await world.app.state.mailer.recent())[0]
    assert mail.to_address == email and "une seule fois" in mail.body
    path = re.search(r"/invitation/[A-Za-z0-9_\-]+", mail.body)
    assert path is not None
    return path.group(0)


async def accept(client: httpx.AsyncClient, path: str) -> httpx.Response:
    form = await client.get(path)
    assert form.status_code == 200, form.text
    return await client.post(path, data={"csrf_token": token_in(form.text)})


async def test_an_invitation_opens_the_space_once_then_says_it_was_used(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    path = await invite(world, "partenaire@entreprise.fr")
    invited = new_client()
    entered = await accept(invited, path)
    assert entered.status_code == 303 and entered.headers["location"] == f"/espaces/{world.slug}"
    assert (await invited.get(f"/espaces/{world.slug}")).status_code == 200

    # Someone else who finds the mail: a clear page, a way home, and no session.
    finder = new_client()
    shown = await finder.get(path)
    assert shown.status_code == 410
    assert SPENT_FR in page_text(shown) and 'href="/"' in shown.text
    assert "Entrer dans l’espace" not in page_text(shown)
    # Posting straight to it (with a valid CSRF token of another page) is refused too.
    refused = await post_form(finder, path)
    assert refused.status_code == 410 and SPENT_FR in page_text(refused)
    assert finder.cookies.get(COOKIE_NAME_SESSION) is None
    assert (await finder.get(f"/espaces/{world.slug}")).status_code == 303  # to sign in
    # The invited person's own second try says the same.
    again = await invited.get(path)
    assert again.status_code == 410
    # Where to go from there, under the message: signing in (to one's spaces), or home.
    assert 'href="/connexion?next=/espaces"' in shown.text

    finder.cookies.set(COOKIE_NAME, "en")
    english = await finder.get(path)
    assert english.status_code == 410 and SPENT_EN in page_text(english)
    assert "Link already used" in english.text


async def test_an_administrator_sends_a_new_invitation_to_someone_whose_link_was_used(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    first = await invite(world, "presta@entreprise.fr")
    assert (await accept(new_client(), first)).status_code == 303
    second = await invite(world, "presta@entreprise.fr")  # a member already: a new link
    assert second != first
    assert (await new_client().get(first)).status_code == 410
    later = new_client()
    assert (await accept(later, second)).status_code == 303
    assert (await later.get(f"/espaces/{world.slug}")).status_code == 200
    assert (await new_client().get(second)).status_code == 410
    # Agents and members with a password are not sent links: they are members already.
    response = await post_form(
        world.clients["admin"],
        f"/espaces/{world.slug}/membres/inviter",
        {"email": "presta@entreprise.fr", "role": "commenter"},
    )
    assert response.status_code == 303


async def test_two_acceptances_at_once_open_one_session_only(
    db_app: Starlette, browsers: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(db_app, browsers)
    for attempt in range(3):
        path = await invite(world, f"simultane{attempt}@entreprise.fr")
        clients = [browsers(), browsers()]
        forms = [await client.get(path) for client in clients]
        tokens = [re.search(r'name="csrf_token" value="([^"]+)"', f.text) for f in forms]
        posts = [
            client.post(path, data={"csrf_token": token.group(1)})
            for client, token in zip(clients, tokens, strict=True)
            if token is not None
        ]
        answers = sorted(r.status_code for r in await asyncio.gather(*posts))
        assert answers == [303, 410], answers
        signed_in = [c for c in clients if c.cookies.get(COOKIE_NAME_SESSION) is not None]
        assert len(signed_in) == 1
        async with db_app.state.engine.connect() as conn:
            member_rows = (
                await conn.execute(
                    select(func.count())
                    .select_from(memberships.join(users, users.c.id == memberships.c.user_id))
                    .where(users.c.email == f"simultane{attempt}@entreprise.fr")
                )
            ).scalar_one()
        assert member_rows == 1


async def test_an_unknown_or_expired_invitation_is_not_called_used(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient]
) -> None:
    world = await build_world(app, new_client)
    engine = app.state.engine
    invitation = await services.invite_by_email(
        engine, world.owner, world.space_id, "tard@entreprise.fr", "reader"
    )
    assert invitation.token is not None
    client = new_client()
    assert (await client.get("/invitation/pas-une-invitation")).status_code == 404
    late = utcnow() + timedelta(days=15)
    with pytest.raises(Forbidden, match="expiré"):
        await services.accept_invitation(engine, invitation.token, now=late)
    assert (await client.get(f"/invitation/{invitation.token}")).status_code == 200
    await services.accept_invitation(engine, invitation.token)
    with pytest.raises(Gone, match="déjà été utilisée"):
        await services.accept_invitation(engine, invitation.token)
    with pytest.raises(Gone):  # used, then expired: "used" is the truer reason
        await services.check_invitation(engine, invitation.token, now=late)
