"""The authorisation matrix of the social layer: every route of comments, reactions,
recommend, follows, notifications, mail settings and a space's activity feed × every kind of
person, written out as a table (the columns and outcomes of test_access_matrix_spaces.py),
checked against the app in process (SQLite, then PostgreSQL when one answers).

Routes under `/api/items/`, `/api/commentaires/`, `/api/notifications`, `/notifications/` and
`/api/espaces/{slug}/activite` are this table's (`table_of`); the item is the space's shared
page (or the space's home). A JSON route answers 401 to nobody signed in.

Where a line has several answers: `first` is the first comment on an item (nobody follows it
yet but its author, so no one is notified); `ok` notifies those who follow it and schedules
their mail.
"""

from __future__ import annotations

import pytest
from starlette.applications import Starlette

from tests.support.access_matrix import (
    SET,
    Case,
    adds,
    does,
    read_table,
    run_case,
    shows,
    table_of,
    updates,
)
from tests.support.matrix_requests import get
from tests.support.matrix_social import (
    mentioned_in_page,
    on_comment,
    on_notification,
    send_json,
    unsubscribe,
)
from tests.support.world_snapshot import InstanceState

TABLE = read_table("""
case                          own  adm  edi  com  rea  out  iad  slr  ple  ano  sgo  exp  dea  pen
# --- comments ------------------------------------------------------------------------------
comments of a page            ok   ok   ok   ok   ok   404  404  ok   ok   401  401  401  401  401
comment on a page             first ok  ok   ok   403  404  404  403  ok   401  401  401  401  401
comment on the space home     first ok  ok   ok   403  404  404  403  404  401  401  401  401  401
edit one's own comment        ok   ok   ok   ok   403  404  404  403  ok   401  401  401  401  401
edit another's comment        ok   403  403  403  403  404  404  403  403  401  401  401  401  401
delete one's own comment      mine ok   ok   ok   403  404  404  403  ok   401  401  401  401  401
resolve a thread              ok   ok   ok   403  403  404  404  403  ok   401  401  401  401  401
reopen a thread               ok   ok   ok   403  403  404  404  403  ok   401  401  401  401  401
react to a comment            ok   ok   ok   ok   403  404  404  403  ok   401  401  401  401  401
mention people in a page      ok   ok   ok   403  403  404  404  403  ok   401  401  401  401  401
# --- recommend and follow ------------------------------------------------------------------
who recommends a page         ok   ok   ok   ok   ok   404  404  ok   ok   401  401  401  401  401
recommend a page              ok   ok   ok   ok   403  404  404  403  ok   401  401  401  401  401
following a page              ok   ok   ok   ok   ok   404  404  ok   ok   401  401  401  401  401
follow a page                 ok   ok   ok   ok   ok   404  404  ok   ok   401  401  401  401  401
# --- notifications -------------------------------------------------------------------------
my notifications              ok   ok   ok   ok   ok   ok   ok   ok   ok   401  401  401  401  401
mark my notifications read    ok   ok   ok   ok   ok   ok   ok   ok   ok   401  401  401  401  401
mark a notification read      ok   ok   ok   ok   ok   ok   ok   ok   ok   401  401  401  401  401
mark another's notification   ok   404  404  404  404  404  404  404  404  401  401  401  401  401
my mail settings              ok   ok   ok   ok   ok   ok   ok   ok   ok   401  401  401  401  401
choose mails for the space    ok   ok   ok   ok   ok   404  404  ok   404  401  401  401  401  401
unsubscribe page              ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
unsubscribe in one click      ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok   ok
# --- the space's activity ------------------------------------------------------------------
activity of a space           ok   ok   ok   ok   ok   404  404  ok   404  401  401  401  401  401
""")

ITEM = "/api/items/page/{page}"
HOME = "/api/items/space/{space}"
COMMENT = "/api/commentaires/{comment}"


def _commented(table: str = "activities comments notifications pending_mails") -> object:
    return does(
        201,
        None,
        table,
        adds("comments", author_id="{me}"),
        adds("activities", kind="comment.created", actor_id="{me}"),
    )


CASES: dict[str, Case] = {
    "comments of a page": Case(
        "GET /api/items/{kind}/{item_id:int}/commentaires",
        get(ITEM + "/commentaires"),
        shows('"threads"'),
    ),
    "comment on a page": Case(
        "POST /api/items/{kind}/{item_id:int}/commentaires",
        send_json("POST", ITEM + "/commentaires", {"body": "<p>Mot de {actor}</p>"}),
        {
            "first": _commented("activities comments"),
            "ok": _commented(),
        },
    ),
    "comment on the space home": Case(
        "POST /api/items/{kind}/{item_id:int}/commentaires",
        send_json("POST", HOME + "/commentaires", {"body": "<p>Mot de {actor}</p>"}),
        {"first": _commented("activities comments"), "ok": _commented()},
    ),
    "edit one's own comment": Case(
        "PATCH /api/commentaires/{comment_id:int}",
        on_comment("PATCH", COMMENT, own=True, json={"body": "<p>Corrigé</p>"}),
        does(200, None, "comments", updates("comments", {"id": "{comment}"}, edited_at=SET)),
    ),
    "edit another's comment": Case(
        "PATCH /api/commentaires/{comment_id:int}",
        on_comment("PATCH", COMMENT, own=False, json={"body": "<p>Corrigé</p>"}),
        does(200, None, "comments", updates("comments", {"id": "{comment}"}, edited_at=SET)),
    ),
    "delete one's own comment": Case(
        "DELETE /api/commentaires/{comment_id:int}",
        on_comment("DELETE", COMMENT, own=True),
        {
            "mine": does(
                200, None, "comments", updates("comments", {"id": "{comment}"}, deleted_at=SET)
            ),
            # Its notifications (to the page's author...) go with it.
            "ok": does(
                200,
                None,
                "comments notifications",
                updates("comments", {"id": "{comment}"}, deleted_at=SET),
            ),
        },
    ),
    "resolve a thread": Case(
        "POST /api/commentaires/{comment_id:int}/resoudre",
        on_comment("POST", COMMENT + "/resoudre", own=False, json={}),
        does(200, None, "comments", updates("comments", {"id": "{comment}"}, resolved_at=SET)),
    ),
    "reopen a thread": Case(
        "POST /api/commentaires/{comment_id:int}/rouvrir",
        on_comment("POST", COMMENT + "/rouvrir", own=False, resolved=True, json={}),
        does(200, None, "comments", updates("comments", {"id": "{comment}"}, resolved_at=None)),
    ),
    "react to a comment": Case(
        "POST /api/commentaires/{comment_id:int}/reactions",
        on_comment("POST", COMMENT + "/reactions", own=False, json={"emoji": "👍"}),
        does(
            200,
            None,
            "comment_reactions",
            adds("comment_reactions", comment_id="{comment}", user_id="{me}"),
        ),
    ),
    "mention people in a page": Case(
        "POST /api/items/{kind}/{item_id:int}/mentions",
        mentioned_in_page,
        does(
            200,
            None,
            "notifications page_mentions pending_mails",
            adds("page_mentions", page_id="{page}", user_id="{person}"),
            adds("notifications", user_id="{person}", reason="mention", actor_id="{me}"),
        ),
    ),
    "who recommends a page": Case(
        "GET /api/items/{kind}/{item_id:int}/recommandations",
        get(ITEM + "/recommandations"),
        shows('"count"'),
    ),
    "recommend a page": Case(
        "POST /api/items/{kind}/{item_id:int}/recommandations",
        send_json("POST", ITEM + "/recommandations", {"on": True}),
        does(200, None, "appreciations", adds("appreciations", user_id="{me}", kind="recommend")),
    ),
    "following a page": Case(
        "GET /api/items/{kind}/{item_id:int}/suivi", get(ITEM + "/suivi"), shows('"following"')
    ),
    "follow a page": Case(
        "POST /api/items/{kind}/{item_id:int}/suivi",
        send_json("POST", ITEM + "/suivi", {"state": "follow"}),
        does(200, None, "follows", adds("follows", user_id="{me}", state="follow")),
    ),
    "my notifications": Case(
        "GET /api/notifications", get("/api/notifications"), shows('"unread"')
    ),
    "mark my notifications read": Case(
        "POST /api/notifications/lues",
        on_notification("/api/notifications/lues", whose="mine"),
        does(
            200,
            None,
            "notifications",
            updates("notifications", {"id": "{notification}"}, read_at=SET),
        ),
    ),
    "mark a notification read": Case(
        "POST /api/notifications/{notification_id:int}/lue",
        on_notification("/api/notifications/{notification}/lue", whose="mine"),
        does(
            200,
            None,
            "notifications",
            updates("notifications", {"id": "{notification}"}, read_at=SET),
        ),
    ),
    "mark another's notification": Case(
        "POST /api/notifications/{notification_id:int}/lue",
        on_notification("/api/notifications/{notification}/lue", whose="owner"),
        does(
            200,
            None,
            "notifications",
            updates("notifications", {"id": "{notification}"}, read_at=SET),
        ),
    ),
    "my mail settings": Case(
        "GET /api/notifications/courriels", get("/api/notifications/courriels"), shows('"default"')
    ),
    "choose mails for the space": Case(
        "POST /api/notifications/courriels",
        send_json("POST", "/api/notifications/courriels", {"space_id": "space", "mail": "daily"}),
        does(
            200,
            None,
            "notification_mail_settings",
            adds("notification_mail_settings", user_id="{me}", space_id="{space}", mail="daily"),
        ),
    ),
    "unsubscribe page": Case(
        "GET /notifications/desabonnement", unsubscribe("GET"), shows("Me désabonner")
    ),
    "unsubscribe in one click": Case(
        "POST /notifications/desabonnement",
        unsubscribe("POST"),
        does(
            200,
            None,
            "notification_mail_settings",
            adds("notification_mail_settings", user_id="{person}", mail="off"),
        ),
    ),
    "activity of a space": Case(
        "GET /api/espaces/{slug}/activite",
        get("/api/espaces/{slug}/activite"),
        shows('"entries"'),
    ),
}


def test_every_social_route_has_a_case_and_every_case_a_route(matrix_routes: set[str]) -> None:
    routes = {route for route in matrix_routes if table_of(route) == "social"}
    covered = {case.route for case in CASES.values()}
    assert sorted(routes - covered) == [], "social routes with no case in the table"
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
