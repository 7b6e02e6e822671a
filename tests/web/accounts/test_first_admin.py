"""First start: `atelier serve` on an empty database prints a link that works once."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.forms import token_in
from tests.support.servers import AtelierServer
from tests.support.waiting import eventually_blocking

LINK = re.compile(r"http://127\.0\.0\.1:\d+(/premier-admin/[A-Za-z0-9_\-]+)")


def _link(server: AtelierServer) -> str:
    match = eventually_blocking(lambda: LINK.search(server.log()), what="the first-admin link")
    return match.group(1)


def test_the_printed_link_creates_the_first_admin_once(
    atelier: Callable[..., AtelierServer],
) -> None:
    server = atelier()
    path = _link(server)
    with httpx.Client(base_url=server.http_url) as browser:
        form = browser.get(path)
        assert form.status_code == 200 and "Créer le premier administrateur" in form.text
        created = browser.post(
            path,
            data={
                "csrf_token": token_in(form.text),
                "display_name": "Odile Admin",
                "email": "odile@interieur.gouv.fr",
                "password": "premier mot de passe",
                "password2": "premier mot de passe",
            },
        )
        assert created.status_code == 303 and created.headers["location"] == "/admin/comptes"
        admin_page = browser.get("/admin/comptes")
        assert admin_page.status_code == 200 and "Odile Admin" in admin_page.text

    with httpx.Client(base_url=server.http_url) as someone_else:
        again = someone_else.get(path)
        assert again.status_code == 410 and "Ce lien a déjà servi" in again.text

    # A restart with an administrator prints no new link.
    server.stop()
    before = server.log().count("/premier-admin/")
    server.start()
    assert server.log().count("/premier-admin/") == before


async def test_a_link_is_issued_while_there_is_no_admin_even_with_other_accounts(
    tmp_path: Path,
) -> None:
    import asyncio

    from web.accounts.first_admin import first_admin_link
    from web.accounts.users import create_user
    from web.database import create_engine, migrate

    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    await asyncio.to_thread(migrate, url)
    assert await first_admin_link(url, "http://x") is not None
    engine = create_engine(url)
    try:
        await create_user(engine, email="early@example.org", display_name="E", status="pending")
        assert await first_admin_link(url, "http://x") is not None
        await create_user(engine, email="boss@gouv.fr", display_name="B", role="admin")
        assert await first_admin_link(url, "http://x") is None
    finally:
        await engine.dispose()
