"""The authorisation matrix of the instance: every route that is not a space's (the front
door, accounts, the administrators' pages, public files, the lists of spaces, the directory,
search, links and invitations, ad-hoc meetings, documents by token) × every kind of person,
written out as a table, and checked against the app in process (SQLite, then PostgreSQL when
one answers).

Columns and outcomes read as in test_access_matrix_spaces.py (the routes of a space): own adm
edi com rea out iad slr ple ano sgo exp dea pen; `in` (sent to sign in), a refusal's status,
or one of the case's own answers in `CASES`. After every refusal and every answer that names
no change, every table row and stored file is as it was.

Many routes here are public by design, and their lines say so: the front door and sign-in,
registration, password reset and links carrying their own credential (a reset or
confirmation token, a guest link, an invitation, a document token: whoever holds it may use
it, signed in or not); static files.
"""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from tests.support.access_matrix import (
    SET,
    Answer,
    Case,
    adds,
    does,
    goes,
    read_table,
    run_case,
    shows,
    table_of,
    updates,
)
from tests.support.matrix_requests import (
    NEW_PASSWORD,
    PAGE,
    PAGE_TEXT,
    SPACE,
    ask_reset,
    bring,
    create_account,
    get,
    image,
    invitation,
    name_admin,
    on_an_admin,
    on_someone,
    post,
    register,
    search,
    sign_in_someone,
    through_link,
    token_doc,
    upload,
    with_text,
    with_token,
)
from tests.support.people import PASSWORD
from tests.support.world_snapshot import InstanceState

TABLE = read_table("""
case                          own  adm  edi  com  rea  out  iad  slr  ple  ano  sgo  exp  dea  pen
# --- the front door and one's account ------------------------------------------------------
home                          ok   ok   ok   ok   ok   ok   ok   ok   ok   in   in   in   in   in
health check                  ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
sign-in form                  away away away away away away away away away form form form form form
sign in                       ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
sign out                      ok   ok   ok   ok   ok   ok   ok   ok   ok   noop noop noop noop noop
sign out everywhere           ok   ok   ok   ok   ok   ok   ok   ok   ok   in   in   in   in   in
switch language               ok   ok   ok   ok   ok   ok   ok   ok   ok   noop noop noop noop noop
account page                  ok   ok   ok   ok   ok   ok   ok   ok   ok   in   in   in   in   in
my notifications page         ok   ok   ok   ok   ok   ok   ok   ok   ok   in   in   in   in   in
change one's profile          ok   ok   ok   ok   ok   ok   ok   ok   ok   in   in   in   in   in
change one's password         ok   ok   ok   ok   ok   ok   ok   ok   ok   in   in   in   in   in
forgotten password form       ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
ask for a reset mail          ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
password reset form           ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
reset a password              ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
sign in with OIDC             ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
come back from OIDC           ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
registration form             away away away away away away away away away form form form form form
register                      ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
address confirmation form     ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
confirm an address            ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
first admin form              410  410  410  410  410  410  410  410  410  410  410  410  410  410
create the first admin        410  410  410  410  410  410  410  410  410  410  410  410  410  410
# --- the instance administrators' pages ----------------------------------------------------
accounts page                 403  403  403  403  403  403  ok   403  403  in   in   in   in   in
create an account             403  403  403  403  403  403  ok   403  403  in   in   in   in   in
deactivate an account         403  403  403  403  403  403  ok   403  403  in   in   in   in   in
reactivate an account         403  403  403  403  403  403  ok   403  403  in   in   in   in   in
change an instance role       403  403  403  403  403  403  ok   403  403  in   in   in   in   in
registrations page            403  403  403  403  403  403  ok   403  403  in   in   in   in   in
accept a registration         403  403  403  403  403  403  ok   403  403  in   in   in   in   in
sent mails page               403  403  403  403  403  403  ok   403  403  in   in   in   in   in
settings and log page         403  403  403  403  403  403  ok   403  403  in   in   in   in   in
change run-time settings      403  403  403  403  403  403  ok   403  403  in   in   in   in   in
name an administrator         403  403  403  403  403  403  ok   403  403  in   in   in   in   in
remove an administrator       403  403  403  403  403  403  ok   403  403  in   in   in   in   in
# --- public files --------------------------------------------------------------------------
a static file                 ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
the service worker            ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
# --- spaces, people, search ----------------------------------------------------------------
list spaces                   ok   ok   ok   ok   ok   ok   ok   space page in   in   in   in   in
new space form                ok   ok   ok   ok   ok   ok   ok   403  403  in   in   in   in   in
create a space                ok   ok   ok   ok   ok   ok   ok   403  403  in   in   in   in   in
directory                     ok   ok   ok   ok   ok   ok   ok   403  403  in   in   in   in   in
a directory profile           ok   ok   ok   ok   ok   ok   ok   403  403  in   in   in   in   in
search                        ok   ok   ok   ok   ok   none none ok   ok   in   in   in   in   in
# --- guest links and invitations: the link is the credential -------------------------------
guest link form               ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
open a guest link             ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
invitation form               ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
accept an invitation          ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
# --- meetings ------------------------------------------------------------------------------
new ad-hoc meeting            ok   ok   ok   ok   ok   ok   ok   403  403  in   in   in   in   in
ad-hoc meeting page           ok   ok   ok   ok   ok   ok   ok   404  404  in   in   in   in   in
space meeting by room name    ok   ok   ok   ok   ok   404  404  ok   ok   in   in   in   in   in
# --- images and documents outside a space's address ---------------------------------------
an image at the old address   ok   ok   ok   ok   ok   404  404  ok   ok   404  404  404  404  404
token: open a document        ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
token: upload an image        ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
token: bring images           ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
token: an image               ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
token: Markdown               ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
token: HTML                   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
no token: open a page's doc   401  401  401  401  401  401  401  401  401  401  401  401  401  401
no token: upload an image     401  401  401  401  401  401  401  401  401  401  401  401  401  401
no token: bring images        401  401  401  401  401  401  401  401  401  401  401  401  401  401
no token: an image            401  401  401  401  401  401  401  401  401  401  401  401  401  401
no token: Markdown            401  401  401  401  401  401  401  401  401  401  401  401  401  401
no token: HTML                401  401  401  401  401  401  401  401  401  401  401  401  401  401
""")

SIGNED_OUT = "/connexion?avis=deconnecte"

CASES: dict[str, Case] = {
    "home": Case("GET /", get("/"), goes("/espaces")),
    "health check": Case("GET /healthz", get("/healthz"), shows('"status":"ok"')),
    "sign-in form": Case(
        "GET /connexion",
        get("/connexion"),
        {"away": goes("/"), "form": shows("<h1>Se connecter à Atelier")},
    ),
    # As someone else: an account with a password (a signed-in actor's own session ends).
    "sign in": Case(
        "POST /connexion",
        sign_in_someone,
        does(
            303,
            "/",
            "sessions users",
            adds("sessions", user_id="{person}", revoked_at=None),
            updates("users", {"id": "{person}"}, last_login_at=SET),
        ),
    ),
    "sign out": Case(
        "POST /deconnexion",
        post("/deconnexion"),
        {
            "ok": does(
                303,
                SIGNED_OUT,
                "sessions",
                updates("sessions", {"id": "{session}"}, revoked_at=SET),
            ),
            "noop": goes(SIGNED_OUT),  # no session to end
        },
    ),
    "sign out everywhere": Case(
        "POST /deconnexion-partout",
        post("/deconnexion-partout"),
        does(
            303,
            "/connexion?avis=partout",
            "sessions",
            updates("sessions", {"id": "{session}"}, revoked_at=SET),
        ),
    ),
    "switch language": Case(
        "POST /langue",
        post("/langue", langue="en", next="/espaces"),
        {
            "ok": does(303, "/espaces", "users", updates("users", {"id": "{me}"}, locale="en")),
            "noop": goes("/espaces"),  # the choice stays in the browser's cookie only
        },
    ),
    "account page": Case("GET /compte", get("/compte"), shows("<h1>Mon compte")),
    "my notifications page": Case(
        "GET /notifications", get("/notifications"), shows("<h1>Notifications</h1>")
    ),
    "change one's profile": Case(
        "POST /compte/profil",
        post("/compte/profil", display_name="Nouveau nom de {actor}", organisation=""),
        does(
            303,
            "/compte?avis=profil",
            "users",
            updates("users", {"id": "{me}"}, display_name="Nouveau nom de {actor}"),
        ),
    ),
    # Nobody in the world has a password yet: the current one is not asked.
    "change one's password": Case(
        "POST /compte/mot-de-passe",
        post("/compte/mot-de-passe", current="", password=NEW_PASSWORD, password2=NEW_PASSWORD),
        does(
            303,
            "/compte?avis=mot-de-passe",
            "users",
            updates("users", {"id": "{me}"}, password_hash=SET),
        ),
    ),
    "forgotten password form": Case(
        "GET /mot-de-passe-oublie", get("/mot-de-passe-oublie"), shows("<h1>Mot de passe oublié")
    ),
    "ask for a reset mail": Case(
        "POST /mot-de-passe-oublie",
        ask_reset,
        does(
            200,
            None,
            "account_tokens login_failures outbox",
            adds("account_tokens", user_id="{id}", purpose="reset"),
            adds("outbox", to_address="{email}"),
        ),
    ),
    "password reset form": Case(
        "GET /reinitialiser/{token}",
        with_token("GET", "/reinitialiser/{token}", "reset"),
        shows("<h1>Choisir un nouveau mot de passe"),
    ),
    "reset a password": Case(
        "POST /reinitialiser/{token}",
        with_token(
            "POST", "/reinitialiser/{token}", "reset", password=NEW_PASSWORD, password2=NEW_PASSWORD
        ),
        does(
            303,
            "/connexion?avis=reinitialise",
            "account_tokens users",
            updates("users", {"id": "{person}"}, password_hash=SET),
            updates("account_tokens", {"user_id": "{person}"}, used_at=SET),
        ),
    ),
    # No identity provider is configured: its routes send everyone to the sign-in page.
    "sign in with OIDC": Case("GET /connexion/oidc", get("/connexion/oidc"), goes("/connexion")),
    "come back from OIDC": Case(
        "GET /connexion/oidc/retour", get("/connexion/oidc/retour"), goes("/connexion")
    ),
    "registration form": Case(
        "GET /inscription",
        get("/inscription"),
        {"away": goes("/"), "form": shows("<h1>Créer un compte")},
    ),
    "register": Case(
        "POST /inscription",
        register,
        does(200, None, "login_failures users", adds("users", email="{email}", status="pending")),
    ),
    "address confirmation form": Case(
        "GET /inscription/confirmer/{token}",
        with_token("GET", "/inscription/confirmer/{token}", "confirm", status="unconfirmed"),
        shows("<h1>Confirmer votre adresse"),
    ),
    "confirm an address": Case(
        "POST /inscription/confirmer/{token}",
        with_token("POST", "/inscription/confirmer/{token}", "confirm", status="unconfirmed"),
        does(
            303,
            "/?avis=confirme",
            "account_tokens sessions users",
            updates("users", {"id": "{person}"}, status="active"),
            adds("sessions", user_id="{person}"),
        ),
    ),
    # The instance has administrators: the link printed on its first start is dead.
    "first admin form": Case("GET /premier-admin/{token}", get("/premier-admin/{first_admin}")),
    "create the first admin": Case(
        "POST /premier-admin/{token}",
        post(
            "/premier-admin/{first_admin}",
            email="premier@example.gouv.fr",
            display_name="Premier",
            password=PASSWORD,
            password2=PASSWORD,
        ),
    ),
    "accounts page": Case("GET /admin/comptes", get("/admin/comptes"), shows("<h1>Comptes")),
    "create an account": Case(
        "POST /admin/comptes",
        create_account,
        does(
            303,
            "/admin/comptes?avis=cree",
            "account_tokens admin_audit outbox users",
            adds("users", email="{email}", role="agent"),
            adds("admin_audit", actor_id="{me}", action="account"),
        ),
    ),
    "deactivate an account": Case(
        "POST /admin/comptes/{user_id}/desactiver",
        on_someone("/admin/comptes/{person}/desactiver"),
        does(
            303,
            "/admin/comptes?avis=desactive",
            "admin_audit users",
            updates("users", {"id": "{person}"}, status="deactivated"),
        ),
    ),
    "reactivate an account": Case(
        "POST /admin/comptes/{user_id}/reactiver",
        on_someone("/admin/comptes/{person}/reactiver", status="deactivated"),
        does(
            303,
            "/admin/comptes?avis=reactive",
            "admin_audit users",
            updates("users", {"id": "{person}"}, status="active"),
        ),
    ),
    "change an instance role": Case(
        "POST /admin/comptes/{user_id}/role",
        on_someone("/admin/comptes/{person}/role", role="admin"),
        does(
            303,
            "/admin/comptes?avis=role",
            "admin_audit users",
            updates("users", {"id": "{person}"}, role="admin"),
        ),
    ),
    "registrations page": Case(
        "GET /admin/inscriptions", get("/admin/inscriptions"), shows("<h1>Inscriptions en attente")
    ),
    "accept a registration": Case(
        "POST /admin/inscriptions/{user_id}/{decision:str}",
        on_someone("/admin/inscriptions/{person}/accepter", status="pending"),
        does(
            303,
            "/admin/inscriptions?avis=accepte",
            "admin_audit outbox users",
            updates("users", {"id": "{person}"}, status="active"),
        ),
    ),
    "sent mails page": Case(
        "GET /admin/courriels", get("/admin/courriels"), shows("<h1>Courriels envoyés")
    ),
    "settings and log page": Case(
        "GET /admin/reglages", get("/admin/reglages"), shows("<h1>Réglages et journal")
    ),
    "change run-time settings": Case(
        "POST /admin/reglages",
        post("/admin/reglages", signup_domains="gouv.fr\nexemple.org", signup_open="non"),
        does(
            303,
            "/admin/reglages?avis=reglages",
            "admin_audit instance_settings",
            adds("instance_settings", name="signup_domains", value="gouv.fr,exemple.org"),
            adds("instance_settings", name="signup_open", value="false"),
            adds("admin_audit", actor_id="{me}", action="setting", subject="signup_domains"),
        ),
    ),
    "name an administrator": Case(
        "POST /admin/administrateurs",
        name_admin,
        does(
            303,
            "/admin/reglages?avis=nomme",
            "admin_audit users",
            updates("users", {"id": "{person}"}, role="admin"),
            adds("admin_audit", actor_id="{me}", action="role", after="admin"),
        ),
    ),
    "remove an administrator": Case(
        "POST /admin/administrateurs/{user_id}/retirer",
        on_an_admin("/admin/administrateurs/{person}/retirer"),
        does(
            303,
            "/admin/reglages?avis=retire",
            "admin_audit users",
            updates("users", {"id": "{person}"}, role="agent"),
            adds("admin_audit", actor_id="{me}", action="role", after="agent"),
        ),
    ),
    # Stylesheets and scripts are the same for everyone.
    "a static file": Case(
        "GET /static/{path:path}", get("/static/css/atelier.css"), shows("[hidden]")
    ),
    "the service worker": Case("GET /sw.js", get("/sw.js"), shows("self")),
    # A link guest's "Espaces" (and "Accueil", which leads there): what was shared with it.
    "list spaces": Case(
        "GET /espaces",
        get("/espaces"),
        {"ok": shows("<h1>Espaces"), "space": goes(SPACE), "page": goes(PAGE)},
    ),
    "new space form": Case(
        "GET /espaces/nouveau", get("/espaces/nouveau"), shows("<h1>Créer un espace")
    ),
    "create a space": Case(
        "POST /espaces",
        post("/espaces", name="Espace de {actor}", kind="project", visibility="private"),
        does(
            303,
            "/espaces/*",
            "memberships spaces",
            adds("spaces", name="Espace de {actor}", created_by="{me}"),
            adds("memberships", user_id="{me}", role="owner"),
        ),
    ),
    "directory": Case("GET /annuaire", get("/annuaire?q=o"), shows("<h1>Annuaire")),
    "a directory profile": Case(
        "GET /annuaire/{user_id:int}", get("/annuaire/{owner}"), shows("<h1>Owner")
    ),
    # Everyone signed in may search; each finds only the pages they may read.
    "search": Case(
        "GET /recherche",
        search,
        {"ok": shows(SPACE + "/pages/{page}"), "none": Answer(200, hides="/pages/{page}")},
    ),
    "guest link form": Case(
        "GET /invite/{token}", through_link("GET"), shows("<h1>Vous êtes invité")
    ),
    "open a guest link": Case(
        "POST /invite/{token}",
        through_link("POST", display_name="Invité de {actor}"),
        does(
            303,
            SPACE,
            "guest_account_creations guest_link_users sessions users",
            adds("users", display_name="Invité de {actor}", role="guest"),
        ),
    ),
    "invitation form": Case(
        "GET /invitation/{token}", invitation("GET"), shows("<h1>Invitation dans un espace")
    ),
    "accept an invitation": Case(
        "POST /invitation/{token}",
        invitation("POST"),
        does(
            303,
            SPACE,
            "activities invitations sessions",
            adds("sessions", user_id="{person}"),
            adds("activities", kind="member.joined", actor_id="{person}"),
            updates("invitations", {"user_id": "{person}"}, accepted_at=SET),
        ),
    ),
    "new ad-hoc meeting": Case(
        "GET /reunion/nouvelle", get("/reunion/nouvelle"), goes("/reunion/meet-*")
    ),
    "ad-hoc meeting page": Case(
        "GET /reunion/{room}", get("/reunion/meet-matrix1"), shows("<h1>Réunion")
    ),
    # A space's room by its name: to the space's meeting for those who may enter it; the
    # others must not learn the space's address.
    "space meeting by room name": Case(
        "GET /reunion/{room}", get("/reunion/space-{space}"), goes(SPACE + "/reunion")
    ),
    # Not under a page's address: nobody signed in gets the same 404 as a stranger.
    "an image at the old address": Case(
        "GET /fichiers/images/{name}", image("/fichiers/images/{image}"), shows("{image_bytes}")
    ),
    "token: open a document": Case(
        "GET /d/{doc:path}", token_doc("/d/{d}?token={t}"), shows("{d}")
    ),
    "token: upload an image": Case(
        "POST /d/{doc:path}/images",
        upload("/d/{d}/images?token={t}"),
        does(201, None, "document_images files", adds("document_images", doc_name="{d}")),
    ),
    "token: bring images": Case(
        "POST /d/{doc:path}/images/references",
        bring("/d/{d}/images/references?token={t}", by_token=True),
        Answer(
            200,
            shows="{image}",
            touches="document_images",
            effects=(adds("document_images", doc_name="{d}", name="{image}"),),
        ),
    ),
    "token: an image": Case(
        "GET /d/{doc:path}/images/{name}",
        image("/d/{d}/images/{image}?token={t}", held_by="token"),
        shows("{image_bytes}"),
    ),
    "token: Markdown": Case(
        "GET /d/{doc:path}/export.md",
        with_text("/d/{d}/export.md?token={t}", by_token=True),
        shows(PAGE_TEXT),
    ),
    "token: HTML": Case(
        "GET /d/{doc:path}/export.html",
        with_text("/d/{d}/export.html?token={t}", by_token=True),
        shows(PAGE_TEXT),
    ),
    # A session, even the owner's, is no document token: the shared page's document by name.
    "no token: open a page's doc": Case("GET /d/{doc:path}", get("/d/{doc}")),
    "no token: upload an image": Case("POST /d/{doc:path}/images", upload("/d/{doc}/images")),
    "no token: bring images": Case(
        "POST /d/{doc:path}/images/references", bring("/d/{doc}/images/references", by_token=False)
    ),
    "no token: an image": Case("GET /d/{doc:path}/images/{name}", image("/d/{doc}/images/{image}")),
    "no token: Markdown": Case("GET /d/{doc:path}/export.md", get("/d/{doc}/export.md")),
    "no token: HTML": Case("GET /d/{doc:path}/export.html", get("/d/{doc}/export.html")),
}


def test_every_route_of_the_instance_has_a_case_and_every_case_a_route(
    matrix_routes: set[str],
) -> None:
    routes = {route for route in matrix_routes if table_of(route) == "instance"}
    covered = {case.route for case in CASES.values()}
    assert sorted(routes - covered) == [], "routes with no case in the table"
    assert sorted(covered - routes) == [], "cases of routes the app does not have (here)"


def test_the_table_and_the_cases_name_the_same_lines() -> None:
    assert sorted(set(TABLE) - set(CASES)) == [], "lines of the table with no case"
    assert sorted(set(CASES) - set(TABLE)) == [], "cases with no line in the table"


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("name", list(TABLE))
async def test_every_actor_gets_what_the_table_says(
    matrix_instance: tuple[Starlette, InstanceState], name: str
) -> None:
    app, state = matrix_instance
    seen, report = await run_case(app, state, CASES[name], TABLE[name])
    assert seen == TABLE[name], "\n".join(report)
