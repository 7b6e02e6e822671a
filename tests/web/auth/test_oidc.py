"""OpenID Connect sign-in against a real OpenID provider on loopback (Authlib's server side:
discovery, PKCE, nonce, RS256 id_tokens checked against its JWKS, userinfo, RP-initiated
logout), including a provider that gets its id_tokens wrong."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey
from starlette.applications import Starlette

from tests.support.forms import post_form
from tests.support.mails import outbox
from tests.support.oidc_provider import OpenIDProvider
from tests.support.page_reading import page_text
from tests.support.people import PASSWORD, sign_in
from tests.support.ports import free_port
from tests.support.web_app import BASE_URL
from web.accounts.users import find_by_email

CLIENT_ID = "atelier-test"
CLIENT_SECRET = "provider-secret-for-tests"
SIGNED_OUT = f"{BASE_URL}/connexion?avis=deconnecte"


@pytest.fixture
def provider() -> Iterator[OpenIDProvider]:
    server = OpenIDProvider(
        CLIENT_ID, CLIENT_SECRET, f"{BASE_URL}/connexion/oidc/retour", SIGNED_OUT
    ).start()
    yield server
    server.stop()


@pytest.fixture
async def oidc_app(
    provider: OpenIDProvider, make_app: Callable[..., Awaitable[Starlette]]
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


async def _to_provider_and_back(browser: httpx.AsyncClient, next_path: str = "/compte") -> str:
    """Start a sign-in, follow the person's browser to the provider (a real HTTP server) and
    back: the address it is sent back to, not yet visited."""
    start = await browser.get(f"/connexion/oidc?next={next_path}")
    assert start.status_code == 302, start.text
    async with httpx.AsyncClient() as outside:
        at_provider = await outside.get(start.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["location"])
    assert back.path == "/connexion/oidc/retour"
    return f"{back.path}?{back.query}"


async def _sign_in_through_provider(
    browser: httpx.AsyncClient, next_path: str = "/compte"
) -> httpx.Response:
    return await browser.get(await _to_provider_and_back(browser, next_path))


async def _signed_in(browser: httpx.AsyncClient) -> bool:
    return (await browser.get("/compte")).status_code == 200


async def test_the_sign_in_page_offers_the_provider(browser: httpx.AsyncClient) -> None:
    page = await browser.get("/connexion")
    assert "Se connecter avec ProConnect" in page.text and "/connexion/oidc" in page.text


async def test_an_agent_signs_in_with_the_provider_and_gets_an_account(
    oidc_app: Starlette, provider: OpenIDProvider, browser: httpx.AsyncClient
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
    oidc_app: Starlette, provider: OpenIDProvider, browser: httpx.AsyncClient
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
    oidc_app: Starlette, provider: OpenIDProvider, browser: httpx.AsyncClient, verified: object
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
    oidc_app: Starlette, provider: OpenIDProvider, browser: httpx.AsyncClient
) -> None:
    provider.person = {"sub": "new-1", "email": "nouveau@travail.gouv.fr", "given_name": "N"}
    refused = await _sign_in_through_provider(browser)
    assert refused.status_code == 403 and UNVERIFIED in page_text(refused)
    assert await find_by_email(oidc_app.state.engine, "nouveau@travail.gouv.fr") is None
    browser.cookies.set("atelier_langue", "en")
    english = await _sign_in_through_provider(browser)
    assert "did not confirm that this email address is yours" in page_text(english)


async def test_an_identity_linked_before_signs_in_without_the_claim(
    oidc_app: Starlette, provider: OpenIDProvider, browser: httpx.AsyncClient
) -> None:
    provider.person = {"sub": "agent-7", "email": "paul@travail.gouv.fr", "email_verified": True}
    assert (await _sign_in_through_provider(browser)).status_code == 303
    await post_form(browser, "/deconnexion")
    provider.person = {"sub": "agent-7", "email": "paul@travail.gouv.fr"}
    again = await _sign_in_through_provider(browser)
    assert again.status_code == 303 and (await browser.get("/compte")).status_code == 200


async def test_a_provider_trusted_for_its_addresses_links_without_the_claim(
    provider: OpenIDProvider, make_app: Callable[..., Awaitable[Starlette]]
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
    oidc_app: Starlette, provider: OpenIDProvider, browser: httpx.AsyncClient
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
    provider: OpenIDProvider, browser: httpx.AsyncClient
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
    provider: OpenIDProvider, browser: httpx.AsyncClient
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
    # To the end-session endpoint the provider's discovery document names.
    logout = urlsplit(out.headers["location"])
    assert f"{logout.scheme}://{logout.netloc}" == provider.issuer
    assert logout.path == provider.endpoint("end_session_endpoint")
    assert out.headers["clear-site-data"] == '"cache", "storage"'
    assert (await browser.get("/compte")).status_code == 303
    async with httpx.AsyncClient() as outside:
        back = await outside.get(out.headers["location"])
    # The provider checked the id_token it had issued (signature, issuer) and ended that
    # session, then sent the person back to the registered address with the state it got.
    (ended,) = provider.logouts
    assert ended["id_token_hint"] == provider.issued[-1]
    assert back.status_code == 302
    assert back.headers["location"] == f"{SIGNED_OUT}&state={ended['state']}"


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


async def test_the_provider_is_found_through_its_discovery_document(
    provider: OpenIDProvider, browser: httpx.AsyncClient
) -> None:
    start = await browser.get("/connexion/oidc")
    assert provider.discovery_reads >= 1
    target = urlsplit(start.headers["location"])
    assert f"{target.scheme}://{target.netloc}" == provider.issuer
    assert target.path == provider.endpoint("authorization_endpoint")  # not a guessed path
    asked = parse_qs(target.query)
    assert asked["client_id"] == [CLIENT_ID] and asked["response_type"] == ["code"]
    assert "openid" in asked["scope"][0].split()
    assert asked["code_challenge_method"] == ["S256"] and asked["nonce"] and asked["state"]


ELSEWHERE = "https://intrus.example"
FORGED = {
    "for another service": {"aud": "another-client"},
    "from another issuer": {"iss": ELSEWHERE},
    "expired an hour ago": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    "for another sign-in": {"nonce": "a-nonce-from-another-sign-in"},
}


@pytest.mark.parametrize("forged", FORGED.values(), ids=FORGED.keys())
async def test_an_id_token_the_provider_got_wrong_signs_nobody_in(
    oidc_app: Starlette,
    provider: OpenIDProvider,
    browser: httpx.AsyncClient,
    forged: dict[str, Any],
) -> None:
    provider.person = {"sub": "agent-1", "email": "ada@travail.gouv.fr", "email_verified": True}
    provider.forged_claims = forged
    refused = await _sign_in_through_provider(browser)
    assert refused.status_code == 400
    assert "Le service de connexion a refusé cette connexion" in page_text(refused)
    assert not await _signed_in(browser)
    assert await find_by_email(oidc_app.state.engine, "ada@travail.gouv.fr") is None
    # The same person, with an id_token as it should be, signs in.
    provider.forged_claims = {}
    assert (await _sign_in_through_provider(browser)).status_code == 303
    assert await _signed_in(browser)


async def test_an_id_token_signed_with_a_key_the_provider_does_not_publish_signs_nobody_in(
    oidc_app: Starlette, provider: OpenIDProvider, browser: httpx.AsyncClient
) -> None:
    # Someone else's key under the provider's key id: what a forger would send.
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": provider.key.kid})
    provider.person = {"sub": "agent-2", "email": "bob@travail.gouv.fr", "email_verified": True}
    refused = await _sign_in_through_provider(browser)
    assert refused.status_code == 400
    assert "Le service de connexion a refusé cette connexion" in page_text(refused)
    assert not await _signed_in(browser)
    assert await find_by_email(oidc_app.state.engine, "bob@travail.gouv.fr") is None


async def test_the_address_may_come_from_the_userinfo_endpoint_only(
    oidc_app: Starlette, provider: OpenIDProvider, browser: httpx.AsyncClient
) -> None:
    # As ProConnect does: an id_token with the subject only, the rest from userinfo (asked
    # with the access token the provider issued).
    provider.claims_in_id_token = False
    provider.person = {
        "sub": "agent-3",
        "email": "clara@travail.gouv.fr",
        "email_verified": True,
        "given_name": "Clara",
        "usual_name": "Zetkin",
    }
    done = await _sign_in_through_provider(browser)
    assert done.status_code == 303 and "Clara Zetkin" in (await browser.get("/compte")).text
    user = await find_by_email(oidc_app.state.engine, "clara@travail.gouv.fr")
    assert user is not None and user.oidc_subject == "agent-3"


async def test_a_userinfo_answer_about_someone_else_signs_nobody_in(
    oidc_app: Starlette, provider: OpenIDProvider, browser: httpx.AsyncClient
) -> None:
    # OpenID Connect Core 5.3.2: userinfo is used only when its subject is the id_token's.
    provider.claims_in_id_token = False
    provider.person = {"sub": "agent-6", "email": "fred@travail.gouv.fr", "email_verified": True}
    provider.forged_userinfo = {"sub": "agent-66", "email": "gus@travail.gouv.fr"}
    refused = await _sign_in_through_provider(browser)
    assert refused.status_code == 400
    assert "Le service de connexion a refusé cette connexion" in page_text(refused)
    assert not await _signed_in(browser)
    for email in ("fred@travail.gouv.fr", "gus@travail.gouv.fr"):
        assert await find_by_email(oidc_app.state.engine, email) is None


async def test_a_return_from_an_earlier_sign_in_attempt_is_refused(
    provider: OpenIDProvider, browser: httpx.AsyncClient
) -> None:
    provider.person = {"sub": "agent-4", "email": "dan@travail.gouv.fr", "email_verified": True}
    earlier = await _to_provider_and_back(browser)
    later = await _to_provider_and_back(browser)  # the browser now waits for this one
    refused = await browser.get(earlier)
    assert refused.status_code == 400 and not await _signed_in(browser)
    # The sign-in it is waiting for goes through.
    assert (await browser.get(later)).status_code == 303 and await _signed_in(browser)


async def test_a_return_address_cannot_sign_in_twice(
    provider: OpenIDProvider, browser: httpx.AsyncClient
) -> None:
    provider.person = {"sub": "agent-5", "email": "eva@travail.gouv.fr", "email_verified": True}
    back = await _to_provider_and_back(browser)
    assert (await browser.get(back)).status_code == 303
    await post_form(browser, "/deconnexion")
    # Replayed: its state and code are spent.
    assert (await browser.get(back)).status_code == 400
    assert not await _signed_in(browser)


async def test_someone_who_declines_at_the_provider_comes_back_with_a_clear_message(
    provider: OpenIDProvider, browser: httpx.AsyncClient
) -> None:
    provider.person = {}  # nobody agrees at the provider: it answers access_denied
    refused = await _sign_in_through_provider(browser)
    assert refused.status_code == 400
    assert "Le service de connexion a refusé cette connexion" in page_text(refused)
    assert not await _signed_in(browser)
