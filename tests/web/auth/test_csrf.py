"""State-changing requests need the page's CSRF token; another site cannot forge one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from tests.support.forms import csrf_token
from tests.support.people import PASSWORD

MakeUser = Callable[..., Awaitable[int]]
SignedIn = Callable[..., Awaitable[httpx.AsyncClient]]


async def test_a_form_without_its_token_is_refused_with_a_clear_message(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("ines@agri.gouv.fr")
    response = await client.post(
        "/connexion", data={"email": "ines@agri.gouv.fr", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "Ce formulaire a expiré ou ne vient pas d'Atelier" in response.text
    assert "atelier_session" not in response.headers.get("set-cookie", "")


async def test_a_token_from_another_visitor_is_refused(
    new_client: Callable[[], httpx.AsyncClient], make_user: MakeUser
) -> None:
    await make_user("jules@agri.gouv.fr")
    attacker, victim = new_client(), new_client()
    token = await csrf_token(attacker)
    await victim.get("/connexion")
    response = await victim.post(
        "/connexion",
        data={"email": "jules@agri.gouv.fr", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 403


async def test_signing_out_without_a_token_is_refused_and_the_session_lives(
    client: httpx.AsyncClient, make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("karim@agri.gouv.fr")
    await signed_in(client, "karim@agri.gouv.fr")
    assert (await client.post("/deconnexion")).status_code == 403
    assert (await client.get("/compte")).status_code == 200


async def test_the_anonymous_token_stops_working_once_signed_in(
    client: httpx.AsyncClient, make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("lea@agri.gouv.fr")
    before = await csrf_token(client)
    await signed_in(client, "lea@agri.gouv.fr")
    response = await client.post("/deconnexion", data={"csrf_token": before})
    assert response.status_code == 403
    assert (await client.get("/compte")).status_code == 200


async def test_scripts_send_the_token_as_a_header_and_get_json_errors(
    client: httpx.AsyncClient, make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("marc@agri.gouv.fr")
    await signed_in(client, "marc@agri.gouv.fr")
    refused = await client.post("/api/rien", json={})
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]
    token = await csrf_token(client, "/compte")
    passed = await client.post("/api/rien", json={}, headers={"X-CSRF-Token": token})
    assert passed.status_code == 404  # past the CSRF check: the route does not exist


async def test_multipart_forms_carry_the_token_first(
    client: httpx.AsyncClient, make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("nora@agri.gouv.fr")
    await signed_in(client, "nora@agri.gouv.fr")
    token = await csrf_token(client, "/compte")
    ok = await client.post(
        "/langue",
        data={"csrf_token": token, "langue": "en", "next": "/compte"},
        files={"fichier": ("a.txt", b"x" * 300_000, "text/plain")},
    )
    assert ok.status_code == 303
    refused = await client.post(
        "/langue",
        data={"langue": "en"},
        files={"fichier": ("a.txt", b"x" * 1000, "text/plain")},
    )
    assert refused.status_code == 403


async def test_an_oversized_form_is_refused_with_413(client: httpx.AsyncClient) -> None:
    token = await csrf_token(client)
    response = await client.post(
        "/connexion", data={"csrf_token": token, "email": "a" * (3 * 2**20)}
    )
    assert response.status_code == 413
