"""Administrators create, deactivate and promote accounts; the outbox shows every mail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from starlette.applications import Starlette

from tests.support.forms import post_form
from tests.support.mails import link_in, outbox
from tests.support.page_reading import page_text
from tests.support.people import PASSWORD, sign_in

MakeUser = Callable[..., Awaitable[int]]
SignedIn = Callable[..., Awaitable[httpx.AsyncClient]]


async def test_deactivating_an_account_kills_its_sessions_at_once(
    new_client: Callable[[], httpx.AsyncClient], make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("chef@interieur.gouv.fr", role="admin")
    target = await make_user("ancien@agri.gouv.fr")
    admin = await signed_in(new_client(), "chef@interieur.gouv.fr")
    victim = await signed_in(new_client(), "ancien@agri.gouv.fr")
    assert (await victim.get("/compte")).status_code == 200

    done = await post_form(admin, f"/admin/comptes/{target}/desactiver")
    assert done.status_code == 303
    assert "ses sessions sont fermées" in page_text(await admin.get(done.headers["location"]))
    assert (await victim.get("/compte")).status_code == 303
    retry = await sign_in(new_client(), "ancien@agri.gouv.fr", PASSWORD)
    assert retry.status_code == 403 and "Ce compte est désactivé" in page_text(retry)

    await post_form(admin, f"/admin/comptes/{target}/reactiver")
    assert (await sign_in(new_client(), "ancien@agri.gouv.fr", PASSWORD)).status_code == 303


async def test_an_admin_creates_an_account_and_the_person_sets_a_password(
    app: Starlette,
    new_client: Callable[[], httpx.AsyncClient],
    make_user: MakeUser,
    signed_in: SignedIn,
) -> None:
    await make_user("chef@interieur.gouv.fr", role="admin")
    admin = await signed_in(new_client(), "chef@interieur.gouv.fr")
    created = await post_form(
        admin,
        "/admin/comptes",
        {"email": "nouvelle@partenaire.org", "display_name": "Nadia", "role": "agent"},
    )
    assert created.status_code == 303
    page = await admin.get(created.headers["location"])
    assert "Nadia" in page_text(page) and "Compte créé" in page_text(page)

    (mail,) = [m for m in await outbox(app) if m.to_address == "nouvelle@partenaire.org"]
    link = link_in(mail, "/reinitialiser/")
    person = new_client()
    await post_form(
        person, link, {"password": "son propre secret", "password2": "son propre secret"}
    )
    assert (
        await sign_in(person, "nouvelle@partenaire.org", "son propre secret")
    ).status_code == 303

    # The admin reads the same mail in the outbox page (no SMTP configured).
    outbox_page = await admin.get("/admin/courriels")
    assert "Aucun serveur SMTP" in page_text(
        outbox_page
    ) and "nouvelle@partenaire.org" in page_text(outbox_page)


async def test_an_admin_names_another_admin_who_then_sees_the_admin_pages(
    new_client: Callable[[], httpx.AsyncClient], make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("chef@interieur.gouv.fr", role="admin")
    deputy_id = await make_user("adjoint@interieur.gouv.fr")
    admin = await signed_in(new_client(), "chef@interieur.gouv.fr")
    deputy = await signed_in(new_client(), "adjoint@interieur.gouv.fr")
    assert (await deputy.get("/admin/comptes")).status_code == 403
    await post_form(admin, f"/admin/comptes/{deputy_id}/role", {"role": "admin"})
    assert (await deputy.get("/admin/comptes")).status_code == 200


async def test_the_last_admin_cannot_demote_or_deactivate_themself(
    client: httpx.AsyncClient, make_user: MakeUser, signed_in: SignedIn
) -> None:
    me = await make_user("seul@interieur.gouv.fr", role="admin")
    await signed_in(client, "seul@interieur.gouv.fr")
    demote = await post_form(client, f"/admin/comptes/{me}/role", {"role": "agent"})
    assert demote.status_code == 400 and "au moins un administrateur" in page_text(demote)
    off = await post_form(client, f"/admin/comptes/{me}/desactiver")
    assert off.status_code == 400
    assert (await client.get("/admin/comptes")).status_code == 200


async def test_admin_pages_send_anonymous_visitors_to_sign_in(client: httpx.AsyncClient) -> None:
    for path in ("/admin/comptes", "/admin/inscriptions", "/admin/courriels"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/connexion?next=/admin/")


async def test_names_with_html_are_escaped_on_admin_pages(
    client: httpx.AsyncClient, make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("chef@interieur.gouv.fr", role="admin")
    await make_user("x@example.org", display_name="<img src=x onerror=alert(1)>", status="pending")
    await signed_in(client, "chef@interieur.gouv.fr")
    page = (await client.get("/admin/inscriptions")).text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


async def test_an_admin_finds_an_account_by_name_address_or_organisation(
    client: httpx.AsyncClient, make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("chef@interieur.gouv.fr", role="admin")
    await make_user("albert.durand@agri.gouv.fr", display_name="Albert Durand")
    await make_user("brigitte@culture.gouv.fr", display_name="Brigitte Moreau")
    await signed_in(client, "chef@interieur.gouv.fr")
    for query in ("durand", "AGRI.gouv", "albert"):
        page = (await client.get("/admin/comptes", params={"q": query})).text
        assert "Albert Durand" in page and "Brigitte Moreau" not in page
    await make_user("jean_dupont@agri.gouv.fr", display_name="Jean Dupont")
    literal = (await client.get("/admin/comptes", params={"q": "jean_d"})).text
    assert "Jean Dupont" in literal and "Albert Durand" not in literal
    wildcard = (await client.get("/admin/comptes", params={"q": "%"})).text
    assert "Albert Durand" not in wildcard  # '%' is a character here, not "anything"
    none = page_text(await client.get("/admin/comptes", params={"q": "zzz"}))
    assert "Aucun compte ne correspond à cette recherche." in none


async def test_admin_pages_show_how_many_registrations_wait(
    client: httpx.AsyncClient, make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("chef@interieur.gouv.fr", role="admin")
    for n in range(3):
        await make_user(f"p{n}@example.org", status="pending")
    await signed_in(client, "chef@interieur.gouv.fr")
    for path in ("/admin/comptes", "/admin/inscriptions", "/admin/courriels"):
        assert "Inscriptions en attente <strong>(3)</strong>" in (await client.get(path)).text
