"""The authorisation matrix of a space: every route under `/espaces/{slug}` × every kind of
person, written out as a table, and checked against the app in process (SQLite, then
PostgreSQL when one answers).

The columns (see tests/support/matrix_world.py): own adm edi com rea, the space's members by
role; out, an agent outside it; iad, an instance admin outside it; slr, a guest of a reader
link to the space; ple, a guest of an editor link to the shared page; ano, nobody signed in;
sgo exp dea pen, a session signed out, expired, of an account deactivated since, of an
account pending approval (each an instance admin and an admin of the space, and each treated
as nobody).

The outcomes (see tests/support/access_matrix.py): `in` is a 303 to the sign-in page, a
number is a refusal with that status, any other word is one of the case's own answers in
`CASES`, with its status, its place or content, and the change it makes. After every refusal
and every answer that names no change, every table row and stored file is as it was. Each
line starts from an empty instance and a new world.

Nothing here comes from the product's rules (no role ranks, no role lists): a change of who
may do what in the product turns a cell red. The instance's other routes have their table in
test_access_matrix.py, the tasks API in test_access_matrix_tasks.py, WebSocket routes and
messages in test_access_matrix_sockets.py (`access_matrix.table_of` says which has a route).
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
    removes,
    run_case,
    shows,
    table_of,
    updates,
)
from tests.support.matrix_requests import (
    PAGE,
    PAGE_TEXT,
    SPACE,
    bring,
    get,
    image,
    invite,
    notes,
    on_new_page,
    on_someone_in_space,
    post,
    restored,
    revoke,
    shift_down,
    unarchived,
    upload,
    version,
    with_text,
)
from tests.support.world_snapshot import InstanceState

TABLE = read_table("""
case                          own  adm  edi  com  rea  out  iad  slr  ple  ano  sgo  exp  dea  pen
# --- the space -----------------------------------------------------------------------------
space home                    ok   ok   ok   ok   ok   404  404  ok   page in   in   in   in   in
space settings page           ok   ok   403  403  403  404  404  403  404  in   in   in   in   in
change space settings         ok   ok   403  403  403  404  404  403  404  in   in   in   in   in
archive a space               ok   ok   403  403  403  404  404  403  404  in   in   in   in   in
members page                  ok   ok   ok   ok   ok   404  404  403  404  in   in   in   in   in
add a member                  ok   ok   403  403  403  404  404  403  404  in   in   in   in   in
invite by email               ok   ok   403  403  403  404  404  403  404  in   in   in   in   in
change a member's role        ok   ok   403  403  403  404  404  403  404  in   in   in   in   in
remove a member               ok   ok   403  403  403  404  404  403  404  in   in   in   in   in
leave the space               409  ok   ok   ok   ok   404  404  404  404  in   in   in   in   in
share the space               ok   ok   ok   ok   ok   404  404  403  404  in   in   in   in   in
share a page                  ok   ok   ok   ok   ok   404  404  403  403  in   in   in   in   in
# --- its pages -----------------------------------------------------------------------------
organise the pages            ok   ok   ok   403  403  404  404  403  404  in   in   in   in   in
create a page                 ok   ok   ok   403  403  404  404  403  404  in   in   in   in   in
rename a page                 ok   ok   ok   403  403  404  404  403  404  in   in   in   in   in
move a page                   ok   ok   ok   403  403  404  404  403  404  in   in   in   in   in
reorder a page                ok   ok   ok   403  403  404  404  403  404  in   in   in   in   in
move a page to the trash      ok   ok   ok   403  403  404  404  403  404  in   in   in   in   in
the trash                     ok   ok   ok   403  403  404  404  403  404  in   in   in   in   in
restore a page                ok   ok   ok   403  403  404  404  403  404  in   in   in   in   in
# --- its guest links -----------------------------------------------------------------------
guest links page              ok   ok   ok   403  403  404  404  403  404  in   in   in   in   in
create a guest link           ok   ok   ok   403  403  404  404  403  404  in   in   in   in   in
revoke one's own link         ok   ok   ok   403  403  404  404  403  404  in   in   in   in   in
revoke another's link         ok   ok   403  403  403  404  404  403  404  in   in   in   in   in
revoke via another space      404  404  404  403  403  404  404  403  404  in   in   in   in   in
a link from the share dialog  ok   ok   ok   403  403  404  404  403  404  in   in   in   in   in
# --- its meeting ---------------------------------------------------------------------------
space meeting page            ok   ok   ok   ok   ok   404  404  ok   ok   in   in   in   in   in
the day's meeting notes       ok   ok   ok   403  403  404  404  403  404  in   in   in   in   in
# --- the shared page -----------------------------------------------------------------------
a page                        ok   ok   ok   ok   ok   404  404  ok   ok   in   in   in   in   in
upload an image               ok   ok   ok   403  403  404  404  403  ok   in   in   in   in   in
bring images into a page      ok   ok   ok   403  403  404  404  403  none in   in   in   in   in
an image of a page            ok   ok   ok   ok   ok   404  404  ok   ok   in   in   in   in   in
a page as Markdown            ok   ok   ok   ok   ok   404  404  ok   ok   in   in   in   in   in
a page as HTML                ok   ok   ok   ok   ok   404  404  ok   ok   in   in   in   in   in
page history                  ok   ok   ok   ok   ok   404  404  ok   ok   in   in   in   in   in
name a version                ok   ok   ok   403  403  404  404  403  ok   in   in   in   in   in
a version                     ok   ok   ok   ok   ok   404  404  ok   ok   in   in   in   in   in
restore a version             ok   ok   ok   403  403  404  404  403  ok   in   in   in   in   in
""")

REVOKED = does(
    303,
    SPACE + "/liens",
    "guest_links",
    updates("guest_links", {"id": "{link}"}, revoked_at=SET),
)

CASES: dict[str, Case] = {
    "space home": Case(
        "GET /espaces/{slug}",
        get(SPACE),
        {"ok": shows("Page partagée"), "page": goes(PAGE)},  # the one-page guest: its page
    ),
    "space settings page": Case(
        "GET /espaces/{slug}/parametres",
        get(SPACE + "/parametres"),
        shows("<h1>Paramètres de l’espace"),
    ),
    "change space settings": Case(
        "POST /espaces/{slug}/parametres",
        post(SPACE + "/parametres", name="Renommé par {actor}", visibility="private"),
        does(
            303, SPACE, "spaces", updates("spaces", {"id": "{space}"}, name="Renommé par {actor}")
        ),
    ),
    "archive a space": Case(
        "POST /espaces/{slug}/archiver",
        unarchived,
        does(303, SPACE, "spaces", updates("spaces", {"id": "{space}"}, archived_at=SET)),
    ),
    "members page": Case(
        "GET /espaces/{slug}/membres", get(SPACE + "/membres"), shows("<h1>Membres de")
    ),
    "add a member": Case(
        "POST /espaces/{slug}/membres/ajouter",
        on_someone_in_space(SPACE + "/membres/ajouter", None, role="reader"),
        does(
            303,
            SPACE + "/membres",
            "activities memberships",
            adds("memberships", user_id="{person}", space_id="{space}", role="reader"),
            adds("activities", kind="member.joined", actor_id="{person}", space_id="{space}"),
        ),
    ),
    "invite by email": Case(
        "POST /espaces/{slug}/membres/inviter",
        invite,
        does(
            303,
            SPACE + "/membres?invite=1",
            "invitations memberships outbox users",
            adds("users", email="{email}", role="guest"),
            adds("invitations", email="{email}", space_id="{space}"),
        ),
    ),
    "change a member's role": Case(
        "POST /espaces/{slug}/membres/role",
        on_someone_in_space(SPACE + "/membres/role", "reader", role="commenter"),
        does(
            303,
            SPACE + "/membres",
            "memberships",
            updates("memberships", {"user_id": "{person}"}, role="commenter"),
        ),
    ),
    "remove a member": Case(
        "POST /espaces/{slug}/membres/retirer",
        on_someone_in_space(SPACE + "/membres/retirer", "reader"),
        does(303, SPACE + "/membres", "memberships", removes("memberships", user_id="{person}")),
    ),
    # The owner is the space's last owner: they must name another before leaving (409).
    "leave the space": Case(
        "POST /espaces/{slug}/quitter",
        post(SPACE + "/quitter"),
        does(303, "/espaces", "memberships", removes("memberships", user_id="{me}")),
    ),
    "share the space": Case(
        "GET /espaces/{slug}/partager", get(SPACE + "/partager"), shows("Personnes ayant accès")
    ),
    "share a page": Case(
        "GET /espaces/{slug}/pages/{page_id:int}/partager",
        get(PAGE + "/partager"),
        shows("Personnes ayant accès"),
    ),
    "organise the pages": Case(
        "GET /espaces/{slug}/organiser", get(SPACE + "/organiser"), shows("<h1>Organiser les pages")
    ),
    "create a page": Case(
        "POST /espaces/{slug}/pages",
        post(SPACE + "/pages", title="Nouvelle par {actor}"),
        does(
            303,
            SPACE + "/pages/*",
            "activities pages",
            adds("pages", title="Nouvelle par {actor}", created_by="{me}"),
            adds("activities", kind="page.created", title="Nouvelle par {actor}", actor_id="{me}"),
        ),
    ),
    "rename a page": Case(
        "POST /espaces/{slug}/pages/{page_id:int}/renommer",
        post(PAGE + "/renommer", title="par {actor}"),
        does(
            303,
            SPACE,
            "activities pages",
            updates("pages", {"id": "{page}"}, title="par {actor}"),
            adds("activities", kind="page.renamed", item_id="{page}", actor_id="{me}"),
        ),
    ),
    "move a page": Case(
        "POST /espaces/{slug}/pages/{page_id:int}/deplacer",
        on_new_page(SPACE + "/pages/{target}/deplacer", parent_id="{page}"),
        does(303, SPACE, "pages", updates("pages", {"id": "{target}"}, parent_id="{page}")),
    ),
    "reorder a page": Case(
        "POST /espaces/{slug}/pages/{page_id:int}/ordre",
        shift_down,
        does(303, SPACE, "pages", updates("pages", {"id": "{page}"})),
    ),
    "move a page to the trash": Case(
        "POST /espaces/{slug}/pages/{page_id:int}/corbeille",
        on_new_page(SPACE + "/pages/{target}/corbeille"),
        # Back to the space, whose toast offers to undo it.
        does(
            303,
            SPACE + "[?]corbeille={target}",
            "pages",
            updates("pages", {"id": "{target}"}, deleted_at=SET),
        ),
    ),
    "the trash": Case(
        "GET /espaces/{slug}/corbeille", get(SPACE + "/corbeille"), shows("<h1>Corbeille")
    ),
    "restore a page": Case(
        "POST /espaces/{slug}/pages/{page_id:int}/restaurer",
        on_new_page(SPACE + "/pages/{target}/restaurer", trashed=True),
        does(
            303,
            SPACE + "/pages/{target}",
            "activities pages",
            updates("pages", {"id": "{target}"}, deleted_at=None),
            adds("activities", kind="page.restored", item_id="{target}", actor_id="{me}"),
        ),
    ),
    "guest links page": Case(
        "GET /espaces/{slug}/liens", get(SPACE + "/liens"), shows("<h1>Liens d’invitation")
    ),
    "create a guest link": Case(
        "POST /espaces/{slug}/liens",
        post(SPACE + "/liens", item="{page}", role="reader", days="3", label="par {actor}"),
        Answer(
            201,
            shows="/invite/",
            touches="guest_links",
            effects=(adds("guest_links", page_id="{page}", role="reader", created_by="{me}"),),
        ),
    ),
    # The share dialog's form: the same route, answered with the share page and its new link.
    "a link from the share dialog": Case(
        "POST /espaces/{slug}/liens",
        post(
            SPACE + "/liens",
            item="{page}",
            role="reader",
            days="3",
            label="dialogue {actor}",
            retour=PAGE + "/partager",
        ),
        Answer(
            201,
            shows="Lien copié",
            touches="guest_links",
            effects=(adds("guest_links", page_id="{page}", role="reader", created_by="{me}"),),
        ),
    ),
    "revoke one's own link": Case(
        "POST /espaces/{slug}/liens/{link_id:int}/revoquer", revoke("mine"), REVOKED
    ),
    "revoke another's link": Case(
        "POST /espaces/{slug}/liens/{link_id:int}/revoquer", revoke("another"), REVOKED
    ),
    # A link of another space of the same owner, through this space's address: unknown here,
    # whoever asks, and left live.
    "revoke via another space": Case(
        "POST /espaces/{slug}/liens/{link_id:int}/revoquer", revoke("elsewhere")
    ),
    "space meeting page": Case(
        "GET /espaces/{slug}/reunion", get(SPACE + "/reunion"), shows("<h1>Réunion")
    ),
    "the day's meeting notes": Case(
        "POST /espaces/{slug}/reunion/notes",
        notes,
        Answer(
            200,
            shows="Notes de réunion",
            touches="activities pages",
            effects=(
                adds("pages", space_id="{space}", created_by="{me}"),
                adds("activities", kind="page.created", actor_id="{me}"),
            ),
        ),
    ),
    "a page": Case("GET /espaces/{slug}/pages/{page_id:int}", get(PAGE), shows("Page partagée")),
    "upload an image": Case(
        "POST /espaces/{slug}/pages/{page_id:int}/images",
        upload(PAGE + "/images"),
        does(201, None, "document_images files", adds("document_images", doc_name="{doc}")),
    ),
    # The one-page guest may write the shared page but may not read the other page that holds
    # the image: it is answered, and nothing is brought.
    "bring images into a page": Case(
        "POST /espaces/{slug}/pages/{page_id:int}/images/references",
        bring(PAGE + "/images/references", by_token=False),
        {
            "ok": Answer(
                200,
                shows="{image}",
                touches="document_images",
                effects=(adds("document_images", doc_name="{doc}", name="{image}"),),
            ),
            "none": Answer(200, hides="{image}"),
        },
    ),
    "an image of a page": Case(
        "GET /espaces/{slug}/pages/{page_id:int}/images/{name}",
        image(PAGE + "/images/{image}"),
        shows("{image_bytes}"),
    ),
    "a page as Markdown": Case(
        "GET /espaces/{slug}/pages/{page_id:int}/export.md",
        with_text(PAGE + "/export.md"),
        shows(PAGE_TEXT),
    ),
    "a page as HTML": Case(
        "GET /espaces/{slug}/pages/{page_id:int}/export.html",
        with_text(PAGE + "/export.html"),
        shows(PAGE_TEXT),
    ),
    "page history": Case(
        "GET /espaces/{slug}/pages/{page_id:int}/versions",
        get(PAGE + "/versions"),
        shows("<h1>Historique des versions"),
    ),
    "name a version": Case(
        "POST /espaces/{slug}/pages/{page_id:int}/versions",
        post(PAGE + "/versions", name="Version de {actor}"),
        does(
            303,
            PAGE + "/versions",
            "page_versions",
            adds("page_versions", name="Version de {actor}", created_by="{me}"),
        ),
    ),
    "a version": Case(
        "GET /espaces/{slug}/pages/{page_id:int}/versions/{version_id:int}",
        version("GET", PAGE + "/versions/{version}"),
        shows("{version_text}"),
    ),
    "restore a version": Case(
        "POST /espaces/{slug}/pages/{page_id:int}/versions/{version_id:int}/restaurer",
        version("POST", PAGE + "/versions/{version}/restaurer"),
        does(
            303,
            PAGE,
            "document_updates page_versions",
            adds("page_versions", name="Avant restauration", created_by="{me}"),
            restored,
        ),
    ),
}


def test_every_route_of_a_space_has_a_case_and_every_case_a_route(
    matrix_routes: set[str],
) -> None:
    routes = {route for route in matrix_routes if table_of(route) == "space"}
    covered = {case.route for case in CASES.values()}
    assert sorted(routes - covered) == [], "routes of a space with no case in the table"
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
