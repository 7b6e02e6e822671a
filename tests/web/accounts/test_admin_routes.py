"""The administrators' settings page: allowed domains and sign-up at run time, the
administrators (never the last one removed), and the log of every change, in the viewer's zone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
from starlette.applications import Starlette

from tests.support.forms import post_form
from tests.support.mails import outbox
from tests.support.page_reading import page_text
from web.accounts import instance
from web.accounts import users as accounts
from web.local_time import local_time

MakeUser = Callable[..., Awaitable[int]]
SignedIn = Callable[..., Awaitable[httpx.AsyncClient]]
PW = "mon mot de passe a moi"


def _signup(email: str) -> dict[str, str]:
    return {"email": email, "display_name": "Paul Petit", "password": PW, "password2": PW}


async def test_an_admin_allows_a_domain_and_its_people_then_register_themselves(
    app: Starlette,
    new_client: Callable[[], httpx.AsyncClient],
    make_user: MakeUser,
    signed_in: SignedIn,
) -> None:
    await make_user("chef@interieur.gouv.fr", role="admin", display_name="Chef Admin")
    admin = await signed_in(new_client(), "chef@interieur.gouv.fr")
    page = page_text(await admin.get("/admin/reglages"))
    assert "Valeur de départ de l'instance : gouv.fr" in page
    assert "Aucune modification pour l'instant" in page

    saved = await post_form(
        admin,
        "/admin/reglages",
        {"signup_domains": "gouv.fr\nPartenaire.org", "signup_open": "oui"},
    )
    assert saved.headers["location"] == "/admin/reglages?avis=reglages"
    page = page_text(await admin.get(saved.headers["location"]))
    assert "Réglages enregistrés" in page
    # The log: who, what, before and after.
    assert "Chef Admin" in page and "Domaines autorisés à s'inscrire" in page
    assert "gouv.fr, partenaire.org" in page

    visitor = new_client()
    form = page_text(await visitor.get("/inscription"))
    assert "gouv.fr, partenaire.org" in form
    done = await post_form(visitor, "/inscription", _signup("paul@partenaire.org"))
    assert "un courriel vient d'être envoyé" in page_text(done)
    assert any(m.to_address == "paul@partenaire.org" for m in await outbox(app))
    user = await accounts.find_by_email(app.state.engine, "paul@partenaire.org")
    assert user is not None and user.status == "unconfirmed"


async def test_saving_the_same_values_changes_and_logs_nothing(
    app: Starlette,
    new_client: Callable[[], httpx.AsyncClient],
    make_user: MakeUser,
    signed_in: SignedIn,
) -> None:
    await make_user("chef@interieur.gouv.fr", role="admin")
    admin = await signed_in(new_client(), "chef@interieur.gouv.fr")
    same = await post_form(
        admin, "/admin/reglages", {"signup_domains": "gouv.fr", "signup_open": "oui"}
    )
    assert same.headers["location"] == "/admin/reglages?avis=inchange"
    assert await instance.recent(app.state.engine) == []


async def test_a_bad_domain_is_refused_and_the_text_is_kept(
    app: Starlette,
    new_client: Callable[[], httpx.AsyncClient],
    make_user: MakeUser,
    signed_in: SignedIn,
) -> None:
    await make_user("chef@interieur.gouv.fr", role="admin")
    admin = await signed_in(new_client(), "chef@interieur.gouv.fr")
    bad = await post_form(
        admin, "/admin/reglages", {"signup_domains": "gouv.fr\nnot a/domain", "signup_open": "oui"}
    )
    assert bad.status_code == 400
    assert "Un domaine n'est pas valable" in page_text(bad) and "not a/domain" in bad.text
    settings = await instance.current(app.state.engine, app.state.settings)
    assert settings.signup_domains == ("gouv.fr",)


async def test_closed_sign_up_takes_no_registration(
    app: Starlette,
    new_client: Callable[[], httpx.AsyncClient],
    make_user: MakeUser,
    signed_in: SignedIn,
) -> None:
    await make_user("chef@interieur.gouv.fr", role="admin")
    admin = await signed_in(new_client(), "chef@interieur.gouv.fr")
    await post_form(admin, "/admin/reglages", {"signup_domains": "gouv.fr", "signup_open": "non"})
    assert "Inscriptions ouvertes" in page_text(await admin.get("/admin/reglages"))

    visitor = new_client()
    assert "Les inscriptions sont fermées" in page_text(await visitor.get("/inscription"))
    refused = await post_form(visitor, "/inscription", _signup("paul@agri.gouv.fr"))
    assert refused.status_code == 403 and "Les inscriptions sont fermées" in page_text(refused)
    assert await accounts.find_by_email(app.state.engine, "paul@agri.gouv.fr") is None


async def test_admins_are_named_and_removed_but_never_the_last_one(
    app: Starlette,
    new_client: Callable[[], httpx.AsyncClient],
    make_user: MakeUser,
    signed_in: SignedIn,
) -> None:
    await make_user("chef@interieur.gouv.fr", role="admin", display_name="Chef Admin")
    agent = await make_user("alice@agri.gouv.fr", display_name="Alice Martin")
    admin = await signed_in(new_client(), "chef@interieur.gouv.fr")
    page = page_text(await admin.get("/admin/reglages"))
    assert "Dernier administrateur" in page

    named = await post_form(admin, "/admin/administrateurs", {"email": "Alice@agri.gouv.fr"})
    assert named.headers["location"] == "/admin/reglages?avis=nomme"
    page = page_text(await admin.get("/admin/reglages"))
    assert "Alice Martin" in page and "administrateur" in page
    alice = await signed_in(new_client(), "alice@agri.gouv.fr")
    assert (await alice.get("/admin/reglages")).status_code == 200

    unknown = await post_form(admin, "/admin/administrateurs", {"email": "personne@agri.gouv.fr"})
    assert unknown.status_code == 400 and "Aucun compte actif" in page_text(unknown)

    removed = await post_form(admin, f"/admin/administrateurs/{agent}/retirer")
    assert removed.headers["location"] == "/admin/reglages?avis=retire"
    assert (await alice.get("/admin/reglages")).status_code == 403

    me = await accounts.find_by_email(app.state.engine, "chef@interieur.gouv.fr")
    assert me is not None
    last = await post_form(admin, f"/admin/administrateurs/{me.id}/retirer")
    assert last.status_code == 400
    assert "doit garder au moins un administrateur" in page_text(last)
    lines = await instance.recent(app.state.engine)
    assert [(e.action, e.subject, e.before, e.after) for e in lines] == [
        ("role", "alice@agri.gouv.fr", "admin", "agent"),
        ("role", "alice@agri.gouv.fr", "agent", "admin"),
    ]


async def test_registration_decisions_and_account_changes_are_logged(
    app: Starlette,
    new_client: Callable[[], httpx.AsyncClient],
    make_user: MakeUser,
    signed_in: SignedIn,
) -> None:
    await make_user("chef@interieur.gouv.fr", role="admin", display_name="Chef Admin")
    waiting = await make_user("zoe@example.org", status="pending")
    other = await make_user("luc@agri.gouv.fr")
    admin = await signed_in(new_client(), "chef@interieur.gouv.fr")
    await post_form(admin, f"/admin/inscriptions/{waiting}/accepter")
    await post_form(admin, f"/admin/comptes/{other}/desactiver")
    page = page_text(await admin.get("/admin/reglages"))
    assert "Inscription examinée : zoe@example.org" in page and "acceptée" in page
    assert "Compte activé ou désactivé : luc@agri.gouv.fr" in page and "désactivé" in page
    newest = (await instance.recent(app.state.engine))[0]
    assert (newest.actor_name, newest.action, newest.after) == (
        "Chef Admin",
        "status",
        "deactivated",
    )
    # The time of the line in the viewer's zone (Paris by default), never in UTC.
    assert local_time(newest.at, "Europe/Paris") in page and "UTC" not in page


async def test_the_profile_time_zone_changes_the_times_shown(
    app: Starlette,
    new_client: Callable[[], httpx.AsyncClient],
    make_user: MakeUser,
    signed_in: SignedIn,
) -> None:
    await make_user("chef@interieur.gouv.fr", role="admin", display_name="Chef Admin")
    waiting = await make_user("zoe@example.org", status="pending")
    asked = (await accounts.get_user(app.state.engine, waiting)).created_at  # type: ignore[union-attr]
    admin = await signed_in(new_client(), "chef@interieur.gouv.fr")
    assert local_time(asked, "Europe/Paris") in page_text(await admin.get("/admin/inscriptions"))
    assert 'value="Europe/Paris" selected' in (await admin.get("/compte")).text

    changed = await post_form(
        admin,
        "/compte/profil",
        {"display_name": "Chef Admin", "organisation": "", "time_zone": "America/New_York"},
    )
    assert changed.status_code == 303
    assert 'value="America/New_York" selected' in (await admin.get("/compte")).text
    page = page_text(await admin.get("/admin/inscriptions"))
    assert local_time(asked, "America/New_York") in page
    assert local_time(asked, "Europe/Paris") not in page

    bad = await post_form(
        admin, "/compte/profil", {"display_name": "Chef Admin", "time_zone": "Mars/Base"}
    )
    assert bad.status_code == 400 and "fuseau horaire de la liste" in page_text(bad)
