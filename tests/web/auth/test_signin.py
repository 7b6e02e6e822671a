"""Signing in and out with a local account, as a person in a browser would."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from tests.support.forms import post_form
from tests.support.page_reading import page_text
from tests.support.people import PASSWORD, sign_in

MakeUser = Callable[..., Awaitable[int]]
SignedIn = Callable[..., Awaitable[httpx.AsyncClient]]


async def test_the_right_password_signs_in_and_the_header_shows_the_name(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("alice@agri.gouv.fr", display_name="Alice Martin")
    response = await sign_in(client, "Alice@Agri.gouv.fr", PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "atelier_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = await client.get("/compte")
    assert page.status_code == 200 and "Alice Martin" in page_text(page)


async def test_a_wrong_password_is_refused_with_a_message(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("bob@agri.gouv.fr")
    response = await sign_in(client, "bob@agri.gouv.fr", "not the password")
    assert response.status_code == 400
    assert "Adresse électronique ou mot de passe incorrect." in page_text(response)
    assert (await client.get("/compte")).status_code == 303


async def test_an_unknown_account_gets_the_same_message(client: httpx.AsyncClient) -> None:
    response = await sign_in(client, "nobody@agri.gouv.fr", PASSWORD)
    assert response.status_code == 400
    assert "Adresse électronique ou mot de passe incorrect." in page_text(response)


async def test_a_page_that_needs_an_account_sends_to_sign_in_and_back(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("carla@agri.gouv.fr")
    response = await client.get("/compte?onglet=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?next=/compte%3Fonglet%3D1"
    form = await client.get(response.headers["location"])
    assert 'name="next" value="/compte?onglet=1"' in page_text(form)
    done = await post_form(
        client,
        "/connexion",
        {"email": "carla@agri.gouv.fr", "password": PASSWORD, "next": "/compte?onglet=1"},
    )
    assert done.headers["location"] == "/compte?onglet=1"


async def test_sign_in_never_sends_to_another_site(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    await make_user("dan@agri.gouv.fr")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = await post_form(
            client,
            "/connexion",
            {"email": "dan@agri.gouv.fr", "password": PASSWORD, "next": target},
        )
        assert response.headers["location"] == "/"


async def test_an_api_call_without_a_session_gets_401_json(
    app: object, client: httpx.AsyncClient
) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from web.auth.current import require_user

    async def me(request: Request) -> JSONResponse:
        return JSONResponse({"id": require_user(request).id})

    assert isinstance(app, Starlette)
    app.router.routes.append(Route("/api/moi", me))
    response = await client.get("/api/moi")
    assert response.status_code == 401
    assert response.json() == {"error": "Connectez-vous pour continuer."}


async def test_sign_out_ends_the_session(
    client: httpx.AsyncClient, make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("eve@agri.gouv.fr")
    await signed_in(client, "eve@agri.gouv.fr")
    stolen = client.cookies.get("atelier_session")
    response = await post_form(client, "/deconnexion")
    assert response.status_code == 303 and response.headers["location"].startswith("/connexion")
    # The offline copies of documents (IndexedDB, service worker cache) go with the session.
    assert response.headers["clear-site-data"] == '"cache", "storage"'
    page = await client.get(response.headers["location"])
    assert "Vous êtes déconnecté." in page_text(page)
    # Replaying the old cookie does not bring the session back.
    client.cookies.set("atelier_session", stolen or "")
    assert (await client.get("/compte")).status_code == 303


async def test_only_signing_out_clears_the_browsers_offline_copies(
    client: httpx.AsyncClient, make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("ines@agri.gouv.fr")
    signed = await sign_in(client, "ines@agri.gouv.fr")
    assert signed.status_code == 303 and "clear-site-data" not in signed.headers
    for path in ("/", "/compte", "/espaces"):
        assert "clear-site-data" not in (await client.get(path)).headers, path
    # A forged sign-out (no CSRF token) is refused and wipes nothing.
    refused = await client.post("/deconnexion")
    assert refused.status_code == 403 and "clear-site-data" not in refused.headers


async def test_a_forged_session_cookie_is_ignored(client: httpx.AsyncClient) -> None:
    client.cookies.set("atelier_session", "made-up.value")
    response = await client.get("/compte")
    assert response.status_code == 303
    assert "atelier_session=;" in response.headers.get("set-cookie", "") or "Max-Age=0" in str(
        response.headers.get_list("set-cookie")
    )


async def test_sign_out_everywhere_kills_the_other_devices_sessions(
    new_client: Callable[[], httpx.AsyncClient], make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("fanny@agri.gouv.fr")
    laptop = await signed_in(new_client(), "fanny@agri.gouv.fr")
    phone = await signed_in(new_client(), "fanny@agri.gouv.fr")
    assert (await phone.get("/compte")).status_code == 200
    response = await post_form(laptop, "/deconnexion-partout")
    assert response.status_code == 303
    assert response.headers["clear-site-data"] == '"cache", "storage"'
    assert (await phone.get("/compte")).status_code == 303
    assert (await laptop.get("/compte")).status_code == 303
    page = await laptop.get(response.headers["location"])
    assert "Vous êtes déconnecté de tous vos appareils." in page_text(page)


async def test_display_names_with_html_are_shown_as_text(
    client: httpx.AsyncClient, make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("gus@agri.gouv.fr", display_name='<script>alert("x")</script>Gus')
    await signed_in(client, "gus@agri.gouv.fr")
    page = (await client.get("/compte")).text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;Gus" in page


async def test_changing_the_password_keeps_this_device_and_signs_out_the_others(
    new_client: Callable[[], httpx.AsyncClient], make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("ivan@agri.gouv.fr")
    here = await signed_in(new_client(), "ivan@agri.gouv.fr")
    elsewhere = await signed_in(new_client(), "ivan@agri.gouv.fr")
    new = "un nouveau secret bien long"
    wrong = await post_form(
        here, "/compte/mot-de-passe", {"current": "pas le bon", "password": new, "password2": new}
    )
    assert wrong.status_code == 400 and "Le mot de passe actuel est incorrect." in wrong.text
    done = await post_form(
        here, "/compte/mot-de-passe", {"current": PASSWORD, "password": new, "password2": new}
    )
    assert done.status_code == 303
    assert "Votre mot de passe a été changé." in page_text(
        await here.get("/compte?avis=mot-de-passe")
    )
    assert (await elsewhere.get("/compte")).status_code == 303
    assert (await sign_in(new_client(), "ivan@agri.gouv.fr", new)).status_code == 303


async def test_a_person_changes_the_name_and_organisation_others_see(
    client: httpx.AsyncClient, make_user: MakeUser, signed_in: SignedIn
) -> None:
    await make_user("jade@agri.gouv.fr", display_name="Jade")
    await signed_in(client, "jade@agri.gouv.fr")
    done = await post_form(
        client, "/compte/profil", {"display_name": "Jade Roux", "organisation": "DGAL"}
    )
    assert done.status_code == 303
    page = await client.get(done.headers["location"])
    assert "Votre profil est enregistré." in page_text(page)
    assert 'value="Jade Roux"' in page.text and 'value="DGAL"' in page.text
    empty = await post_form(client, "/compte/profil", {"display_name": "  "})
    assert empty.status_code == 400 and "Indiquez votre nom." in empty.text
