"""OpenID Connect sign-in against a real provider app on loopback (discovery, PKCE, RS256)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.forms import post_form
from tests.support.mails import outbox
from tests.support.page_reading import page_text
from tests.support.people import PASSWORD, sign_in
from tests.support.ports import free_port
from tests.support.web_app import BASE_URL
from web.accounts.users import find_by_email

CLIENT_ID = "atelier-test"
CLIENT_SECRET = "provider-secret-for-tests"


class FakeProvider:
    """A small but real OIDC provider: the person "signed in" there is `self.person`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.person: dict[str, Any] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.issued: list[str] = []
        self.logouts: list[str] = []
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
                Route("/jwks", self.jwks),
                Route("/userinfo", self.userinfo),
                Route("/logout", self.logout),
            ]
        )
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "end_session_endpoint": f"{self.issuer}/logout",
            }
        )

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
        assert q["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "nonce": q.get("nonce"),
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
        }
        target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
        return RedirectResponse(target, status_code=302)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        auth = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if auth != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.pop(str(form.get("code")), None)
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = str(form.get("code_verifier"))
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant", "d": "pkce"}, status_code=400)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **self.person,
        }
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
        self.issued.append(id_token)
        return JSONResponse(
            {"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}
        )

    async def logout(self, request: Request) -> Response:
        self.logouts.append(request.query_params["id_token_hint"])
        return RedirectResponse(request.query_params["post_logout_redirect_uri"], status_code=302)

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def userinfo(self, request: Request) -> Response:
        return JSONResponse(self.person)

    def start(self) -> FakeProvider:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "fake provider did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    server = FakeProvider().start()
    yield server
    server.stop()


@pytest.fixture
async def oidc_app(
    provider: FakeProvider, make_app: Callable[..., Awaitable[Starlette]]
) -> Starlette:
    return await make_app(
        oidc_discovery_url=provider.discovery_url,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_scopes="openid email given_name usual_name",
    )


@pytest.fixture
async def browser(oidc_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=oidc_app), base_url=BASE_URL
    ) as client:
        yield client


async def _sign_in_through_provider(
    browser: httpx.AsyncClient, next_path: str = "/compte"
) -> httpx.Response:
    start = await browser.get(f"/connexion/oidc?next={next_path}")
    assert start.status_code == 302, start.text
    # The person's browser goes to the provider (a real HTTP server) and is sent back.
    async with httpx.AsyncClient() as outside:
        at_provider = await outside.get(start.headers["location"])
    assert at_provider.status_code == 302
    back = urlsplit(at_provider.headers["location"])
    assert back.path == "/connexion/oidc/retour"
    return await browser.get(f"{back.path}?{back.query}")


async def test_the_sign_in_page_offers_the_provider(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/connexion")
    assert "Se connecter avec ProConnect" in page.text and "/connexion/oidc" in page.text


async def test_an_agent_signs_in_with_the_provider_and_gets_an_account(
    oidc_app: Starlette, provider: FakeProvider, browser: httpx.AsyncClient
) -> None:
    provider.person = {
        "sub": "agent-123",
        "email": "irene@travail.gouv.fr",
        "email_verified": True,
        "given_name": "Irène",
        "usual_name": "Curie",
    }
    done = await _sign_in_through_provider(browser)
    assert done.status_code == 303 and done.headers["location"] == "/compte"
    page = await browser.get("/compte")
    assert page.status_code == 200 and "Irène Curie" in page.text
    user = await find_by_email(oidc_app.state.engine, "irene@travail.gouv.fr")
    assert user is not None and user.oidc_subject == "agent-123" and user.password_hash is None


async def test_an_existing_local_account_is_linked_not_duplicated(
    oidc_app: Starlette, provider: FakeProvider, browser: httpx.AsyncClient
) -> None:
    from web.accounts.users import create_user

    local = await create_user(
        oidc_app.state.engine,
        email="jean@travail.gouv.fr",
        display_name="Jean Local",
        password="un mot de passe local",
    )
    provider.person = {
        "sub": "agent-456",
        "email": "Jean@travail.gouv.fr",
        "email_verified": True,
        "given_name": "J",
    }
    assert (await _sign_in_through_provider(browser)).status_code == 303
    user = await find_by_email(oidc_app.state.engine, "jean@travail.gouv.fr")
    assert user is not None and user.id == local and user.oidc_subject == "agent-456"
    assert "Jean Local" in (await browser.get("/compte")).text


UNVERIFIED = "Le service de connexion ne confirme pas que cette adresse électronique est la vôtre"


@pytest.mark.parametrize("verified", [False, "false", None])
async def test_an_unverified_address_is_not_linked_to_the_account_that_has_it(
    oidc_app: Starlette, provider: FakeProvider, browser: httpx.AsyncClient, verified: object
) -> None:
    from web.accounts.users import create_user

    local = await create_user(
        oidc_app.state.engine,
        email="jean@travail.gouv.fr",
        display_name="Jean Local",
        password="un mot de passe local",
    )
    provider.person = {"sub": "intrus-1", "email": "jean@travail.gouv.fr", "given_name": "J"}
    if verified is not None:  # None: the claim is absent
        provider.person["email_verified"] = verified
    refused = await _sign_in_through_provider(browser)
    assert refused.status_code == 403 and UNVERIFIED in page_text(refused)
    assert "connectez-vous avec votre mot de passe Atelier" in page_text(refused)
    assert (await browser.get("/compte")).status_code == 303  # not signed in
    user = await find_by_email(oidc_app.state.engine, "jean@travail.gouv.fr")
    assert user is not None and user.id == local and user.oidc_subject is None


async def test_an_unverified_address_gets_no_new_account_even_in_an_allowed_domain(
    oidc_app: Starlette, provider: FakeProvider, browser: httpx.AsyncClient
) -> None:
    provider.person = {"sub": "new-1", "email": "nouveau@travail.gouv.fr", "given_name": "N"}
    refused = await _sign_in_through_provider(browser)
    assert refused.status_code == 403 and UNVERIFIED in page_text(refused)
    assert await find_by_email(oidc_app.state.engine, "nouveau@travail.gouv.fr") is None
    browser.cookies.set("atelier_langue", "en")
    english = await _sign_in_through_provider(browser)
    assert "did not confirm that this email address is yours" in page_text(english)


async def test_an_identity_linked_before_signs_in_without_the_claim(
    oidc_app: Starlette, provider: FakeProvider, browser: httpx.AsyncClient
) -> None:
    provider.person = {"sub": "agent-7", "email": "paul@travail.gouv.fr", "email_verified": True}
    assert (await _sign_in_through_provider(browser)).status_code == 303
    await post_form(browser, "/deconnexion")
    provider.person = {"sub": "agent-7", "email": "paul@travail.gouv.fr"}
    again = await _sign_in_through_provider(browser)
    assert again.status_code == 303 and (await browser.get("/compte")).status_code == 200


async def test_a_provider_trusted_for_its_addresses_links_without_the_claim(
    provider: FakeProvider, make_app: Callable[..., Awaitable[Starlette]]
) -> None:
    from web.accounts.users import create_user

    app = await make_app(
        oidc_discovery_url=provider.discovery_url,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_trust_email=True,
    )
    local = await create_user(
        app.state.engine, email="eve@travail.gouv.fr", display_name="Eve", password="mot de passe"
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as browser:
        provider.person = {"sub": "agent-8", "email": "eve@travail.gouv.fr"}
        assert (await _sign_in_through_provider(browser)).status_code == 303
        # An explicit "not verified" is refused all the same.
        provider.person = {"sub": "agent-9", "email": "x@travail.gouv.fr", "email_verified": False}
        assert (await _sign_in_through_provider(browser)).status_code == 403
    user = await find_by_email(app.state.engine, "eve@travail.gouv.fr")
    assert user is not None and user.id == local and user.oidc_subject == "agent-8"


async def test_someone_outside_the_allowed_domains_waits_for_an_admin(
    oidc_app: Starlette, provider: FakeProvider, browser: httpx.AsyncClient
) -> None:
    provider.person = {
        "sub": "ext-1",
        "email": "karl@cabinet-conseil.fr",
        "email_verified": True,
        "given_name": "Karl",
    }
    response = await _sign_in_through_provider(browser)
    assert response.status_code == 403
    assert "attend l'accord d'un administrateur" in page_text(response)
    assert (await browser.get("/compte")).status_code == 303
    user = await find_by_email(oidc_app.state.engine, "karl@cabinet-conseil.fr")
    assert user is not None and user.status == "pending"
    assert await outbox(oidc_app) == []


async def test_a_callback_without_the_matching_start_is_refused(
    provider: FakeProvider, browser: httpx.AsyncClient
) -> None:
    provider.person = {"sub": "x", "email": "x@travail.gouv.fr"}
    forged = await browser.get("/connexion/oidc/retour?code=abc&state=xyz")
    assert forged.status_code == 400 and "Cette connexion a expiré" in page_text(forged)

    start = await browser.get("/connexion/oidc")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    wrong_code = await browser.get(f"/connexion/oidc/retour?code=stolen&state={state}")
    assert wrong_code.status_code == 400
    assert "a refusé cette connexion" in page_text(wrong_code)
    assert (await browser.get("/compte")).status_code == 303


async def test_local_accounts_still_work_when_oidc_is_configured(
    oidc_app: Starlette, browser: httpx.AsyncClient
) -> None:
    from web.accounts.users import create_user

    await create_user(
        oidc_app.state.engine, email="loc@agri.gouv.fr", display_name="Loc", password=PASSWORD
    )
    assert (await sign_in(browser, "loc@agri.gouv.fr")).status_code == 303


async def test_signing_out_also_ends_the_providers_session(
    provider: FakeProvider, browser: httpx.AsyncClient
) -> None:
    provider.person = {
        "sub": "agent-9",
        "email": "lise@travail.gouv.fr",
        "email_verified": True,
        "given_name": "Lise",
    }
    await _sign_in_through_provider(browser)
    out = await post_form(browser, "/deconnexion")
    assert out.status_code == 303
    assert out.headers["location"].startswith(f"{provider.issuer}/logout?")
    assert out.headers["clear-site-data"] == '"cache", "storage"'
    assert (await browser.get("/compte")).status_code == 303
    async with httpx.AsyncClient() as outside:
        back = await outside.get(out.headers["location"])
    assert provider.logouts == provider.issued[-1:]
    assert back.headers["location"] == f"{BASE_URL}/connexion?avis=deconnecte"


async def test_a_provider_that_does_not_answer_gets_a_clear_message(
    make_app: Callable[..., Awaitable[Starlette]],
) -> None:
    app = await make_app(
        oidc_discovery_url=f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration",
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL
    ) as client:
        response = await client.get("/connexion/oidc")
        assert response.status_code == 400
        assert "Le service de connexion ne répond pas" in page_text(response)
        assert (await client.get("/connexion")).status_code == 200  # local sign-in still there
