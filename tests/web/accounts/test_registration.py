"""Self-registration: allowed domains confirm by mail, others wait for an admin's decision."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.forms import post_form
from tests.support.mails import link_in, outbox
from tests.support.page_reading import page_text
from tests.support.people import PASSWORD, sign_in
from tests.support.web_app import BASE_URL
from web.accounts.users import domain_allowed

MakeUser = Callable[..., Awaitable[int]]
SignedIn = Callable[..., Awaitable[httpx.AsyncClient]]
PW = "mon mot de passe a moi"


def _form(email: str, name: str = "Wanda Lopez") -> dict[str, str]:
    return {
        "email": email,
        "display_name": name,
        "organisation": "DINUM",
        "password": PW,
        "password2": PW,
    }


@pytest.mark.parametrize(
    ("email", "allowed"),
    [
        ("a@gouv.fr", True),
        ("a@agriculture.gouv.fr", True),
        ("a@deep.sub.gouv.fr", True),
        ("a@notgouv.fr", False),
        ("a@gouv.fr.evil.com", False),
        ("a@example.org", False),
    ],
)
def test_allowed_domains_include_their_subdomains_only(email: str, allowed: bool) -> None:
    assert domain_allowed(email, ("gouv.fr",)) is allowed


async def test_an_agent_of_an_allowed_domain_confirms_by_mail_then_is_in(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    done = await post_form(client, "/inscription", _form("wanda@culture.gouv.fr"))
    assert done.status_code == 200 and "un courriel vient d'être envoyé" in page_text(done)
    # Not in before confirming.
    refused = await sign_in(client, "wanda@culture.gouv.fr", PW)
    assert refused.status_code == 403 and "Confirmez d'abord votre adresse" in page_text(refused)

    (mail,) = await outbox(app)
    assert mail.to_address == "wanda@culture.gouv.fr"
    link = link_in(mail, "/inscription/confirmer/")
    page = await client.get(link)
    assert page.status_code == 200 and "Activer mon compte" in page_text(page)
    confirmed = await post_form(client, link, {})
    assert confirmed.status_code == 303
    home = await client.get("/compte")
    assert home.status_code == 200 and "Wanda Lopez" in page_text(home)
    assert (await client.get(link)).status_code == 410


async def test_an_outside_address_waits_and_an_admin_approves_it(
    app: Starlette,
    new_client: Callable[[], httpx.AsyncClient],
    make_user: MakeUser,
    signed_in: SignedIn,
) -> None:
    await make_user("admin1@interieur.gouv.fr", role="admin")
    await make_user("admin2@interieur.gouv.fr", role="admin")
    applicant = new_client()
    done = await post_form(applicant, "/inscription", _form("xavier@prestataire.com", "Xavier"))
    assert "Un administrateur va l'examiner" in page_text(done)
    waiting = await sign_in(applicant, "xavier@prestataire.com", PW)
    assert waiting.status_code == 403 and "attend l'accord d'un administrateur" in page_text(
        waiting
    )

    # Every admin sees the request.
    first = await signed_in(new_client(), "admin1@interieur.gouv.fr")
    second = await signed_in(new_client(), "admin2@interieur.gouv.fr")
    for admin in (first, second):
        page = await admin.get("/admin/inscriptions")
        assert "xavier@prestataire.com" in page_text(page)

    user_id = await _pending_id(app, "xavier@prestataire.com")
    accepted = await post_form(first, f"/admin/inscriptions/{user_id}/accepter")
    assert accepted.status_code == 303
    # The second admin, a moment too late, is told and cannot flip the decision.
    late = await post_form(second, f"/admin/inscriptions/{user_id}/refuser")
    assert "deja" in late.headers["location"]
    assert "xavier@prestataire.com" not in page_text(await second.get("/admin/inscriptions"))

    mails = [m for m in await outbox(app) if m.to_address == "xavier@prestataire.com"]
    assert [m.subject for m in mails] == ["Atelier : votre inscription est acceptée"]
    assert (await sign_in(applicant, "xavier@prestataire.com", PW)).status_code == 303


async def test_a_refused_person_is_told_and_cannot_sign_in(
    app: Starlette,
    new_client: Callable[[], httpx.AsyncClient],
    make_user: MakeUser,
    signed_in: SignedIn,
) -> None:
    await make_user("admin@interieur.gouv.fr", role="admin")
    applicant = new_client()
    await post_form(applicant, "/inscription", _form("yann@example.org", "Yann"))
    admin = await signed_in(new_client(), "admin@interieur.gouv.fr")
    user_id = await _pending_id(app, "yann@example.org")
    await post_form(admin, f"/admin/inscriptions/{user_id}/refuser")
    (mail,) = [m for m in await outbox(app) if m.to_address == "yann@example.org"]
    assert mail.subject == "Atelier : votre inscription n'a pas été acceptée"
    refused = await sign_in(applicant, "yann@example.org", PW)
    assert refused.status_code == 403 and "n'a pas été acceptée" in page_text(refused)


async def test_an_agent_cannot_see_or_decide_registrations(
    app: Starlette, client: httpx.AsyncClient, make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("zoe@agri.gouv.fr")
    await signed_in(client, "zoe@agri.gouv.fr")
    page = await client.get("/admin/inscriptions")
    assert page.status_code == 403 and "réservée aux administrateurs" in page_text(page)
    pending = await make_user("p@example.org", status="pending")
    response = await post_form(client, f"/admin/inscriptions/{pending}/accepter")
    assert response.status_code == 403
    assert (await client.get("/admin/courriels")).status_code == 403


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"email": "pas-une-adresse"}, "n'est pas valide"),
        ({"display_name": "  "}, "Indiquez votre nom"),
        ({"password": "court", "password2": "court"}, "au moins 12 caractères"),
        ({"password2": "autre chose encore"}, "ne sont pas identiques"),
    ],
)
async def test_bad_registration_forms_say_what_is_wrong(
    client: httpx.AsyncClient, change: dict[str, str], message: str
) -> None:
    response = await post_form(client, "/inscription", {**_form("a@gouv.fr"), **change})
    assert response.status_code == 400 and message in page_text(response)


def _without_tokens(page: httpx.Response, email: str) -> str:
    """A page's text with what differs between two visitors (CSRF token, address) masked."""
    text = re.sub(r'name="csrf-token" content="[^"]+"', "", page_text(page))
    return re.sub(r'name="csrf_token" value="[^"]+"', "", text).replace(email, "ADDRESS")


@pytest.mark.parametrize("domain", ["gouv.fr", "prestataire.com"])
async def test_registering_with_a_taken_address_looks_like_a_new_one_and_mails_the_owner(
    app: Starlette, new_client: Callable[[], httpx.AsyncClient], make_user: MakeUser, domain: str
) -> None:
    await make_user(f"dup@{domain}", display_name="Dora Dupuis")
    fresh = await post_form(new_client(), "/inscription", _form(f"fresh@{domain}"))
    mails_before = len(await outbox(app))

    taken = await post_form(new_client(), "/inscription", _form(f"DUP@{domain}"))
    assert taken.status_code == fresh.status_code == 200
    assert "existe déjà" not in page_text(taken)
    assert _without_tokens(taken, f"dup@{domain}") == _without_tokens(fresh, f"fresh@{domain}")

    mails = await outbox(app)
    assert len(mails) == mails_before + 1
    told = mails[0]
    assert told.to_address == f"dup@{domain}"
    assert told.subject == "Atelier : une inscription avec votre adresse"
    assert "Dora Dupuis" in told.body and "/inscription/confirmer/" not in told.body
    assert f"{BASE_URL}/connexion\n" in told.body
    assert f"{BASE_URL}/mot-de-passe-oublie\n" in told.body
    # The account is the owner's as before: their password, not the newcomer's.
    assert (await sign_in(new_client(), f"dup@{domain}", PW)).status_code == 400
    assert (await sign_in(new_client(), f"dup@{domain}", PASSWORD)).status_code == 303


async def _pending_id(app: Starlette, email: str) -> int:
    from web.accounts.users import find_by_email

    user = await find_by_email(app.state.engine, email)
    assert user is not None and user.status == "pending"
    return user.id


async def test_one_address_cannot_flood_the_instance_with_registrations(
    client: httpx.AsyncClient,
) -> None:
    for n in range(5):
        done = await post_form(client, "/inscription", _form(f"spam{n}@example.org"))
        assert done.status_code == 200
    flood = await post_form(client, "/inscription", _form("spam9@example.org"))
    assert flood.status_code == 429 and "Trop de demandes" in flood.text
