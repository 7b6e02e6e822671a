"""A small but real OpenID Connect provider on loopback, built from Authlib's server side.

Authlib's `AuthorizationServer` with the authorization-code grant, PKCE (S256, required) and
the `OpenIDCode` extension (nonce required, never twice) signs RS256 id_tokens with a key it
publishes at its JWKS URI; a discovery document names every endpoint; the userinfo endpoint
serves bearer tokens it issued; RP-initiated logout checks the `id_token_hint` it gets and
sends the person back only to a registered address. It runs on a real uvicorn in a thread,
on 127.0.0.1 and a free port.

A test says who is signed in at the provider (`person`), and may make the provider get
things wrong, as a broken or hostile one would: claims it puts in id_tokens (`forged_claims`:
another audience, issuer, nonce, an expiry past) or in userinfo answers (`forged_userinfo`),
a key it signs with but does not publish (`signing_key`); or it may send id_tokens with no
profile, which then comes from userinfo only (`claims_in_id_token`).
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import uvicorn
from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer, OAuth2Error, OAuth2Request, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.discovery import OpenIDProviderMetadata
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.support.ports import free_port

SCOPES = ("openid", "email", "profile", "given_name", "usual_name")


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    """The relying party (Atelier) as registered at the provider."""

    client_id: str
    client_secret: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"post_logout_redirect_uris": self.post_logout_redirect_uris}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == self.client_secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "client_secret_basic"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode:
    """A code given to the browser on its way back to the relying party."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    person: dict[str, Any]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


@dataclass
class Token(TokenMixin):  # type: ignore[misc]
    """An access token the provider issued: what its userinfo endpoint accepts."""

    client: Client
    person: dict[str, Any]
    scope: str
    access_token: str
    issued_at: int
    expires_in: int

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return False

    def get_user(self) -> dict[str, Any]:
        return self.person

    def get_client(self) -> Client:
        return self.client


class _Request(OAuth2Request):  # type: ignore[misc]
    """What Authlib reads of an HTTP request, read from Starlette beforehand (the form is
    read asynchronously; Authlib's server side is synchronous)."""

    def __init__(self, request: Request, form: dict[str, str]) -> None:
        super().__init__(request.method, str(request.url), headers=request.headers)
        self._query = dict(request.query_params)
        self._form = form
        self.payload = BasicOAuth2Payload({**self._query, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, provider: OpenIDProvider) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.provider = provider
        self.register_token_generator(
            "default", BearerTokenGenerator(lambda **_: generate_token(42))
        )

    def query_client(self, client_id: str) -> Client | None:
        client = self.provider.client
        return client if client.client_id == client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self.provider.tokens[token["access_token"]] = Token(
            request.client,
            dict(request.user),
            token["scope"],
            token["access_token"],
            int(time.time()),
            int(token["expires_in"]),
        )

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        if isinstance(body, dict):
            return JSONResponse(body, status, dict(headers))
        return Response(body, status, dict(headers))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


class _CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic"]

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        payload = request.payload.data
        if payload.get("nonce"):
            self.server.provider.nonces.add(payload["nonce"])
        self.server.provider.codes[code] = AuthorizationCode(
            code,
            request.client.client_id,
            payload["redirect_uri"],
            request.scope,
            dict(request.user),
            payload.get("nonce"),
            payload.get("code_challenge"),
            payload.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        found: AuthorizationCode | None = self.server.provider.codes.get(code)
        return found if found is not None and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.server.provider.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> dict[str, Any]:
        return authorization_code.person


class _OpenIDCode(OpenIDCode):  # type: ignore[misc]
    def __init__(self, provider: OpenIDProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return nonce in self.provider.nonces  # a code was given for it already

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        return self.provider.signing_key or self.provider.key

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": "RS256", "kid": self.provider.key.kid or ""}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": self.provider.issuer, "aud": client.client_id}

    def generate_user_info(self, user: dict[str, Any], scope: str) -> UserInfo:
        claims = user if self.provider.claims_in_id_token else {"sub": user["sub"]}
        # Authlib adds these last: claims the provider is made to get wrong win over its own.
        return UserInfo({**claims, **self.provider.forged_claims})

    def process_token(self, grant: Any, response: Any) -> dict[str, Any]:
        token: dict[str, Any] = super().process_token(grant, response)
        self.provider.issued.append(token["id_token"])
        return token


class _UserInfo(UserInfoEndpoint):  # type: ignore[misc]
    def __call__(self, request: OAuth2Request) -> tuple[int, Any, list[tuple[str, str]]]:
        token = self.resource_protector.validate_request(["openid"], request)
        claims = {**token.get_user(), **self.server.provider.forged_userinfo}
        return 200, UserInfo(claims), [("Content-Type", "application/json")]


class _BearerTokens(BearerTokenValidator):  # type: ignore[misc]
    def __init__(self, provider: OpenIDProvider) -> None:
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string: str) -> Token | None:
        token: Token | None = self.provider.tokens.get(token_string)
        return token


class _EndSession(EndSessionEndpoint):  # type: ignore[misc]
    def get_server_jwks(self) -> KeySet:
        return self.server.provider.jwks()

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        self.server.provider.logouts.append(end_session_request.request.payload.data)


class OpenIDProvider:
    """The provider, for one registered client; `start()` serves it, `stop()` ends it."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        post_logout_redirect_uri: str,
    ) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.client = Client(client_id, client_secret, [redirect_uri], [post_logout_redirect_uri])
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.person: dict[str, Any] = {}
        self.forged_claims: dict[str, Any] = {}
        self.forged_userinfo: dict[str, Any] = {}
        self.signing_key: RSAKey | None = None
        self.claims_in_id_token = True
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, Token] = {}
        self.nonces: set[str] = set()
        self.issued: list[str] = []
        self.logouts: list[dict[str, str]] = []
        self.discovery_reads = 0
        self.server = _Server(self)
        self.server.register_grant(_CodeGrant, [CodeChallenge(required=True), _OpenIDCode(self)])
        protector = ResourceProtector()
        protector.register_token_validator(_BearerTokens(self))
        self.server.register_endpoint(_UserInfo(resource_protector=protector))
        self.server.register_endpoint(_EndSession)
        self.metadata = OpenIDProviderMetadata(
            issuer=self.issuer,
            # Not the usual paths: a relying party finds them through discovery, or not at all.
            authorization_endpoint=f"{self.issuer}/oidc/auth",
            token_endpoint=f"{self.issuer}/oidc/token",
            jwks_uri=f"{self.issuer}/oidc/keys",
            userinfo_endpoint=f"{self.issuer}/oidc/me",
            end_session_endpoint=f"{self.issuer}/oidc/logout",
            scopes_supported=list(SCOPES),
            response_types_supported=["code"],
            grant_types_supported=["authorization_code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            token_endpoint_auth_methods_supported=["client_secret_basic"],
            code_challenge_methods_supported=["S256"],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.metadata.validate()  # a discovery document as the specification has it
        app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/oidc/auth", self._authorize),
                Route("/oidc/token", self._token, methods=["POST"]),
                Route("/oidc/keys", self._keys),
                Route("/oidc/me", self._userinfo, methods=["GET", "POST"]),
                Route("/oidc/logout", self._logout, methods=["GET", "POST"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._uvicorn.run, daemon=True)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def jwks(self) -> KeySet:
        """The keys the provider publishes: its own, never `signing_key`."""
        return KeySet([RSAKey.import_key(self.key.as_dict(private=False))])

    def endpoint(self, name: str) -> str:
        """The path of one endpoint of the discovery document (`authorization_endpoint`)."""
        return urlsplit(str(self.metadata[name])).path

    # -- HTTP ------------------------------------------------------------------------------

    async def _request(self, request: Request) -> _Request:
        form = {k: str(v) for k, v in (await request.form()).items()}
        return _Request(request, form)

    async def _discovery(self, request: Request) -> Response:
        self.discovery_reads += 1
        return JSONResponse(dict(self.metadata))

    async def _keys(self, request: Request) -> Response:
        return JSONResponse(self.jwks().as_dict(private=False))

    async def _authorize(self, request: Request) -> Response:
        oauth_request = await self._request(request)
        try:
            grant = self.server.get_consent_grant(oauth_request, end_user=self.person or None)
        except OAuth2Error as error:
            return PlainTextResponse(f"{error.error}: {error.description}", 400)
        # The person is signed in here and agrees at once; nobody signed in declines.
        response: Response = self.server.create_authorization_response(
            oauth_request, grant_user=dict(self.person) or None, grant=grant
        )
        return response

    async def _token(self, request: Request) -> Response:
        response: Response = self.server.create_token_response(await self._request(request))
        return response

    async def _userinfo(self, request: Request) -> Response:
        oauth_request = await self._request(request)
        try:
            response: Response = self.server.create_endpoint_response("userinfo", oauth_request)
        except OAuth2Error as error:
            return JSONResponse({"error": error.error}, error.status_code)
        return response

    async def _logout(self, request: Request) -> Response:
        response = self.server.create_endpoint_response("end_session", await self._request(request))
        return response or PlainTextResponse("Vous êtes déconnecté.")

    # -- life ------------------------------------------------------------------------------

    def start(self) -> OpenIDProvider:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._uvicorn.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the OpenID provider did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._uvicorn.should_exit = True
        self._thread.join(10)
