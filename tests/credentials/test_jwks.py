"""JWKS: keys from a real identity provider endpoint (uvicorn on 127.0.0.1), fetched without
blocking, refreshed on rotation, bounded under a flood of unknown kids, and never a 500."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import cache
from typing import Any

import anyio
import httpx
import jwt
import pytest
from apps import RecordingApp
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from live_server import LiveServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from tokens import AUDIENCE, ec_key, public_pem, rsa_key, settings, token

from asgi_mcp_auth import (
    AuthenticationError,
    ConfigurationError,
    Credential,
    JWTVerifier,
    MCPAuthMiddleware,
    TokenSource,
)
from asgi_mcp_auth.credentials.jwks import JWKSClient, JWKSError
from asgi_mcp_auth.pipeline.authenticator import Authenticator

pytestmark = pytest.mark.anyio

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@cache
def second_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def p384_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def jwk(private_key: PrivateKey, kid: str | None, **members: Any) -> dict[str, Any]:
    public = private_key.public_key()
    data: dict[str, Any] = (
        RSAAlgorithm.to_jwk(public, as_dict=True)
        if isinstance(public, rsa.RSAPublicKey)
        else ECAlgorithm.to_jwk(public, as_dict=True)
    )
    if kid is not None:
        data["kid"] = kid
    data.update(members)
    return data


def signed(private_key: PrivateKey, kid: str | None = None, algorithm: str | None = None, **claims: Any) -> str:
    algorithm = algorithm or ("RS256" if isinstance(private_key, rsa.RSAPrivateKey) else "ES256")
    headers = {"kid": kid} if kid is not None else None
    return token("alice", key=private_key, algorithm=algorithm, headers=headers, **claims)


def assemble(header: dict[str, Any], payload: dict[str, Any], *, hmac_key: bytes | None = None) -> str:
    """A token PyJWT would refuse to build (odd header values), signed RS256 with `rsa_key()` or
    HS256 with `hmac_key`."""

    def b64(data: bytes) -> str:
        return jwt.utils.base64url_encode(data).decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}".encode()
    if hmac_key is not None:
        signature = hmac.new(hmac_key, signing_input, hashlib.sha256).digest()
    else:
        signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input, rsa_key())
    return f"{signing_input.decode()}.{b64(signature)}"


class IdentityProvider:
    """A JWKS endpoint that counts its requests; what it publishes can change between requests."""

    def __init__(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)
        self.requests = 0
        self.status = 200
        self.body: bytes | None = None  # served instead of the key set when set
        self.released = threading.Event()  # set when the test ends: held responses finish
        self.app = Starlette(
            routes=[
                Route("/jwks", self.jwks),
                Route("/moved", lambda request: RedirectResponse("/jwks", status_code=302)),
                Route("/huge", self.huge),
                Route("/huge-chunked", self.huge_chunked),
                Route("/stalled", self.stalled),
            ]
        )
        self._server = LiveServer(self.app)
        self.url = ""

    def publish(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)

    async def jwks(self, request: Request) -> Response:
        self.requests += 1
        if self.status != 200:
            return JSONResponse({"error": "unavailable"}, status_code=self.status)
        if self.body is not None:
            return Response(self.body, media_type="application/json")
        return JSONResponse({"keys": self.keys})

    async def huge(self, request: Request) -> Response:
        self.requests += 1
        padding = [{"kty": "oct", "k": "x" * 1000, "kid": str(i)} for i in range(400)]
        return JSONResponse({"keys": [*self.keys, *padding]})

    async def huge_chunked(self, request: Request) -> Response:
        self.requests += 1

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"keys": ['
            for i in range(10_000):
                yield b'{"kty": "oct", "k": "%d"},' % i
                if self.released.is_set():
                    return
            yield b"{}]}"

        return StreamingResponse(chunks(), media_type="application/json")  # no Content-Length

    async def stalled(self, request: Request) -> Response:
        self.requests += 1

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"keys": ['
            await anyio.to_thread.run_sync(self.released.wait)  # holds the response open

        return StreamingResponse(chunks(), media_type="application/json")

    def __enter__(self) -> IdentityProvider:
        self.url = self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.released.set()
        self._server.stop()


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    with IdentityProvider(jwk(rsa_key(), "rsa-1"), jwk(ec_key(), "ec-1")) as provider:
        yield provider


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def jwks_client(url: str, clock: Clock | None = None, **options: Any) -> JWKSClient:
    options.setdefault("algorithms", ["RS256", "ES256"])
    return JWKSClient(url, clock=clock or Clock(), **options)


def protected(client: JWKSClient) -> MCPAuthMiddleware:
    verifier = JWTVerifier(algorithms=sorted(client.algorithms), key_resolver=client, audience=AUDIENCE)
    return MCPAuthMiddleware(RecordingApp(), settings=jwks_settings(client.url), verifier=verifier)


def jwks_settings(url: str, **overrides: Any) -> Any:
    return settings(jwt_secret=None, jwks_url=url, jwt_algorithms=["RS256", "ES256"], **overrides)


@contextlib.asynccontextmanager
async def http(app: MCPAuthMiddleware) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw.example.com") as client:
        yield client


async def status(client: httpx.AsyncClient, value: str) -> int:
    return (await client.get("/tools", headers={"Authorization": f"Bearer {value}"})).status_code


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/jwks"


# -- verification with published keys ---------------------------------------------------------------


@pytest.mark.parametrize(("private_key", "kid"), [(rsa_key, "rsa-1"), (ec_key, "ec-1")], ids=["RSA-RS256", "EC-ES256"])
async def test_tokens_signed_with_a_published_key_are_accepted_via_jwks_url_settings(
    idp: IdentityProvider, private_key: Any, kid: str
) -> None:
    app = RecordingApp()
    middleware = MCPAuthMiddleware(app, settings=jwks_settings(idp.url + "/jwks"))
    async with http(middleware) as client:
        response = await client.get("/tools", headers={"Authorization": f"Bearer {signed(private_key(), kid)}"})
        again = await client.get("/tools", headers={"Authorization": f"Bearer {signed(private_key(), kid)}"})

    assert (response.status_code, again.status_code) == (200, 200)
    assert response.json()["sub"] == "alice"
    assert idp.requests == 1


async def test_an_ed25519_token_verifies_with_an_okp_key_from_the_jwks(idp: IdentityProvider) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    idp.publish({**OKPAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": "ed-1"})
    verifier = JWTVerifier(
        algorithms=["EdDSA"], key_resolver=jwks_client(idp.url + "/jwks", algorithms=["EdDSA"]), audience=AUDIENCE
    )
    value = token("alice", key=private, algorithm="EdDSA", headers={"kid": "ed-1"})

    principal = await verifier.verify(Credential(value, TokenSource.HEADER))
    assert principal.subject == "alice"


async def test_a_token_signed_by_an_unpublished_key_is_refused_with_401(idp: IdentityProvider) -> None:
    async with http(protected(jwks_client(idp.url + "/jwks"))) as client:
        forged = await client.get("/tools", headers={"Authorization": f"Bearer {signed(second_rsa_key(), 'rsa-1')}"})

    assert forged.status_code == 401
    assert forged.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


# -- rotation, TTL, refresh cooldown ----------------------------------------------------------------


async def test_rotation_accepts_the_new_key_and_refuses_the_old_one_after_refresh(idp: IdentityProvider) -> None:
    clock = Clock()
    keys = jwks_client(idp.url + "/jwks", clock, refresh_cooldown=30)
    old_token, new_token = signed(rsa_key(), "rsa-1"), signed(second_rsa_key(), "rsa-2")
    async with http(protected(keys)) as client:
        assert await status(client, old_token) == 200  # verified, and now in the token cache

        idp.publish(jwk(second_rsa_key(), "rsa-2"))  # new key published, old one withdrawn
        clock.now += 30
        new_accepted = await status(client, new_token)  # unknown kid: refresh
        cached_old = await status(client, old_token)
        fresh_old = await status(client, signed(rsa_key(), "rsa-1", jti="another"))

    assert (new_accepted, cached_old, fresh_old) == (200, 401, 401)
    assert idp.requests == 2


async def test_keys_are_fetched_again_once_the_jwks_cache_ttl_has_passed(idp: IdentityProvider) -> None:
    clock = Clock()
    keys = jwks_client(idp.url + "/jwks", clock, cache_ttl=300, refresh_cooldown=30)
    await keys.key_for({"alg": "RS256", "kid": "rsa-1"})
    clock.now += 299
    await keys.key_for({"alg": "RS256", "kid": "rsa-1"})
    fetched_within_ttl = idp.requests
    clock.now += 1
    await keys.key_for({"alg": "RS256", "kid": "rsa-1"})

    assert (fetched_within_ttl, idp.requests) == (1, 2)


async def test_a_flood_of_random_kids_fetches_at_most_once_per_cooldown(idp: IdentityProvider) -> None:
    clock = Clock()
    keys = jwks_client(idp.url + "/jwks", clock, refresh_cooldown=30)
    async with http(protected(keys)) as client:
        first = [await status(client, signed(rsa_key(), uuid.uuid4().hex)) for _ in range(50)]
        clock.now += 30
        second = [await status(client, signed(rsa_key(), uuid.uuid4().hex)) for _ in range(50)]
        still_good = await status(client, signed(rsa_key(), "rsa-1"))

    assert set(first) == set(second) == {401}
    assert still_good == 200
    assert idp.requests == 2


async def test_concurrent_misses_share_one_fetch(idp: IdentityProvider) -> None:
    keys = jwks_client(idp.url + "/jwks", refresh_cooldown=0)
    found: list[Any] = []

    async def resolve() -> None:
        found.append(await keys.key_for({"alg": "RS256", "kid": "rsa-1"}))

    async with anyio.create_task_group() as tasks:
        for _ in range(20):
            tasks.start_soon(resolve)

    assert len(found) == 20
    assert idp.requests == 1


# -- a failing identity provider ----------------------------------------------------------------------


async def test_the_last_good_keys_are_served_while_the_identity_provider_is_down(
    idp: IdentityProvider, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    keys = jwks_client(idp.url + "/jwks?client_secret=s3cr3t", clock, cache_ttl=60, refresh_cooldown=30)
    await keys.prefetch()
    idp.status = 503
    clock.now += 60  # the key set is stale: the next verification tries to refresh it
    value = signed(rsa_key(), "rsa-1")
    with caplog.at_level(logging.INFO, logger="asgi_mcp_auth"):
        async with http(protected(keys)) as client:
            served = await status(client, value)

    assert served == 200
    assert idp.requests == 2
    failures = [record for record in caplog.records if record.name == "asgi_mcp_auth.jwks"]
    assert [record.levelno for record in failures] == [logging.WARNING]
    message = failures[0].getMessage()
    assert "HTTP 503" in message
    assert "s3cr3t" not in caplog.text
    assert value not in caplog.text


async def test_a_stopped_identity_provider_still_leaves_the_last_good_keys_in_use() -> None:
    clock = Clock()
    with IdentityProvider(jwk(rsa_key(), "rsa-1")) as provider:
        keys = jwks_client(provider.url + "/jwks", clock, cache_ttl=60)
        await keys.prefetch()
    clock.now += 3600  # stale, the provider gone: connection refused

    assert await keys.key_for({"alg": "RS256", "kid": "rsa-1"}) is not None


@pytest.mark.parametrize("idp_status", [404, 500, 503])
async def test_with_no_good_keys_an_unreachable_identity_provider_means_401_not_500(
    idp: IdentityProvider, idp_status: int
) -> None:
    idp.status = idp_status
    async with (
        http(protected(jwks_client(idp.url + "/jwks"))) as failing,
        http(protected(jwks_client(closed_port_url()))) as refused,
    ):
        responses = [await failing.get("/tools", headers={"Authorization": f"Bearer {signed(rsa_key(), 'rsa-1')}"})]
        responses.append(await refused.get("/tools", headers={"Authorization": f"Bearer {signed(rsa_key(), 'rsa-1')}"}))

    assert [response.status_code for response in responses] == [401, 401]
    assert all(response.json() == {"detail": "Unknown signing key"} for response in responses)


async def test_redirects_from_the_jwks_url_are_not_followed(idp: IdentityProvider) -> None:
    keys = jwks_client(idp.url + "/moved")

    with pytest.raises(JWKSError, match="HTTP 302"):
        await keys.prefetch()
    with pytest.raises(AuthenticationError):
        await keys.key_for({"alg": "RS256", "kid": "rsa-1"})
    assert idp.requests == 0  # /jwks was never requested


@pytest.mark.parametrize("path", ["/huge", "/huge-chunked"], ids=["content-length", "chunked"])
async def test_a_jwks_response_larger_than_jwks_max_bytes_is_refused(idp: IdentityProvider, path: str) -> None:
    keys = jwks_client(idp.url + path, max_bytes=64 * 1024)

    with pytest.raises(JWKSError, match="larger than 65536 bytes"):
        await keys.prefetch()
    with pytest.raises(AuthenticationError):
        await keys.key_for({"alg": "RS256", "kid": "rsa-1"})


async def test_a_jwks_response_that_does_not_complete_in_time_is_abandoned(idp: IdentityProvider) -> None:
    keys = jwks_client(idp.url + "/stalled", timeout=0.5)

    with pytest.raises(JWKSError, match=r"no complete response within 0\.5s"):
        await keys.prefetch()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"keys": {}}',
        b'{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "rsa-1"}]}',
        b'{"keys": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    ],
    ids=["not-json", "not-an-object", "keys-not-a-list", "no-usable-key", "deeply-nested"],
)
async def test_a_malformed_jwks_keeps_the_last_good_keys(idp: IdentityProvider, body: bytes) -> None:
    clock = Clock()
    keys = jwks_client(idp.url + "/jwks", clock)
    await keys.prefetch()
    idp.body = body

    with pytest.raises(JWKSError):
        await keys.prefetch()
    assert await keys.key_for({"alg": "RS256", "kid": "rsa-1"}) is not None


# -- which keys may verify which tokens ---------------------------------------------------------------


async def test_an_hs256_token_signed_with_the_rsa_public_key_is_refused(idp: IdentityProvider) -> None:
    # The classic key confusion: the public key, which anyone can fetch, used as an HMAC secret.
    forged = _hs256_with_public_key()
    async with http(protected(jwks_client(idp.url + "/jwks"))) as client:
        response = await client.get("/tools", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401


def _hs256_with_public_key() -> str:
    # PyJWT refuses to sign HS256 with a PEM key, so the token is assembled by hand.
    return assemble(
        {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"},
        {"sub": "mallory", "aud": AUDIENCE, "exp": 4_000_000_000},
        hmac_key=public_pem(rsa_key()).encode(),
    )


@pytest.mark.parametrize("algorithms", [["HS256"], ["RS256", "HS256"], []])
def test_a_jwks_client_refuses_hmac_algorithms(algorithms: list[str]) -> None:
    with pytest.raises(ConfigurationError):
        JWKSClient("https://idp.example.com/jwks", algorithms=algorithms)


@pytest.mark.parametrize(
    ("published", "private_key", "algorithm"),
    [
        (jwk(rsa_key(), "k", use="enc"), rsa_key(), "RS256"),
        (jwk(rsa_key(), "k", key_ops=["encrypt"]), rsa_key(), "RS256"),
        (jwk(rsa_key(), "k", alg="RS512"), rsa_key(), "RS256"),
        (jwk(rsa_key(), "k", alg="ES256"), rsa_key(), "RS256"),
        (jwk(ec_key(), "k", alg="RS256"), ec_key(), "ES256"),
        (jwk(p384_key(), "k"), p384_key(), "ES384"),
        ({**ECAlgorithm.to_jwk(ec_key(), as_dict=True), "kid": "k"}, ec_key(), "ES256"),  # with "d"
        ({"kty": "oct", "k": jwt.utils.base64url_encode(b"x" * 32).decode(), "kid": "k"}, None, "HS256"),
    ],
    ids=[
        "use-enc",
        "key-ops-encrypt",
        "alg-not-configured",
        "alg-of-another-type",
        "ec-key-rs-alg",
        "curve-not-configured",
        "private-key",
        "oct-key",
    ],
)
async def test_a_published_key_that_does_not_fit_the_configured_algorithms_is_never_used(
    idp: IdentityProvider, published: dict[str, Any], private_key: Any, algorithm: str
) -> None:
    idp.publish(published, jwk(rsa_key(), "other"))
    value = (
        signed(private_key, "k", algorithm)
        if private_key is not None
        else token("alice", key=b"x" * 32, algorithm="HS256", headers={"kid": "k"})
    )
    async with http(protected(jwks_client(idp.url + "/jwks"))) as client:
        assert await status(client, value) == 401


async def test_published_keys_with_members_of_unexpected_types_are_skipped(idp: IdentityProvider) -> None:
    odd = [
        {**jwk(rsa_key(), "odd-1"), "kty": "OKP", "crv": ["Ed25519"]},
        {**jwk(rsa_key(), "odd-2"), "n": 12345},
        {**jwk(rsa_key(), "odd-3"), "key_ops": "verify"},
        ["not", "an", "object"],
    ]
    idp.publish(*odd, jwk(rsa_key(), "rsa-1"))  # type: ignore[arg-type]
    async with http(protected(jwks_client(idp.url + "/jwks"))) as client:
        good = await status(client, signed(rsa_key(), "rsa-1"))
        odd_ones = [await status(client, signed(rsa_key(), f"odd-{i}")) for i in (1, 2, 3)]

    assert (good, odd_ones) == (200, [401, 401, 401])


@pytest.mark.parametrize(
    ("published", "accepted"),
    [
        ([jwk(rsa_key(), None)], True),
        ([jwk(rsa_key(), "rsa-1")], True),
        ([jwk(rsa_key(), "rsa-1"), jwk(ec_key(), "ec-1")], True),  # one RSA key: fits RS256
        ([jwk(rsa_key(), "rsa-1"), jwk(second_rsa_key(), "rsa-2")], False),
    ],
    ids=["one-key-no-kid", "one-key", "one-key-per-type", "two-rsa-keys"],
)
async def test_a_token_without_kid_needs_exactly_one_suitable_key(
    idp: IdentityProvider, published: list[dict[str, Any]], accepted: bool
) -> None:
    idp.publish(*published)
    async with http(protected(jwks_client(idp.url + "/jwks"))) as client:
        assert await status(client, signed(rsa_key())) == (200 if accepted else 401)


@pytest.mark.parametrize("kid", [123, None, ["rsa-1"], {"id": "rsa-1"}])
async def test_a_kid_that_is_not_a_string_is_refused_with_401(idp: IdentityProvider, kid: object) -> None:
    keys = jwks_client(idp.url + "/jwks")
    value = assemble({"alg": "RS256", "kid": kid}, {"sub": "alice", "aud": AUDIENCE, "exp": 4_000_000_000})
    async with http(protected(keys)) as client:
        refused = await status(client, value)

    assert refused == 401
    with pytest.raises(AuthenticationError):
        await keys.key_for({"alg": "RS256", "kid": kid})


@pytest.mark.parametrize("alg", ["HS256", "none", "RS512", None, 256])
async def test_a_token_algorithm_outside_the_configured_ones_is_refused_before_any_fetch(
    idp: IdentityProvider, alg: object
) -> None:
    keys = jwks_client(idp.url + "/jwks")

    with pytest.raises(AuthenticationError):
        await keys.key_for({"alg": alg, "kid": "rsa-1"})
    assert idp.requests == 0


async def test_key_urls_in_a_token_header_are_never_fetched(idp: IdentityProvider) -> None:
    with IdentityProvider(jwk(second_rsa_key(), "attacker")) as attacker:
        headers = {"kid": "attacker", "jku": attacker.url + "/jwks", "x5u": attacker.url + "/jwks"}
        value = token("mallory", key=second_rsa_key(), algorithm="RS256", headers=headers)
        async with http(protected(jwks_client(idp.url + "/jwks"))) as client:
            refused = await status(client, value)

    assert refused == 401
    assert attacker.requests == 0


# -- start-up prefetch -----------------------------------------------------------------------------------


def test_prefetch_from_the_lifespan_loads_the_keys_before_the_first_request(idp: IdentityProvider) -> None:
    # The README's pattern: build the authenticator, hand it to the middleware, keep it.
    authenticator = Authenticator.from_settings(jwks_settings(idp.url + "/jwks"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await authenticator.prefetch()
        yield

    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    app = Starlette(routes=[Route("/whoami", whoami)], lifespan=lifespan)
    app.add_middleware(MCPAuthMiddleware, authenticator=authenticator)
    with LiveServer(app) as base_url:
        fetched_at_startup = idp.requests
        response = httpx.get(base_url + "/whoami", headers={"Authorization": f"Bearer {signed(ec_key(), 'ec-1')}"})

    assert fetched_at_startup == 1
    assert response.json() == {"sub": "alice"}
    assert idp.requests == 1


async def test_prefetch_raises_when_the_identity_provider_is_unreachable() -> None:
    middleware = MCPAuthMiddleware(RecordingApp(), settings=jwks_settings(closed_port_url()))

    with pytest.raises(JWKSError, match="ConnectError"):
        await middleware.authenticator.prefetch()


def test_the_jwks_client_repr_shows_neither_query_nor_user_info() -> None:
    keys = JWKSClient("https://user:pw@idp.example.com:8443/jwks?key=s3cr3t", algorithms=["RS256"])

    assert repr(keys) == "JWKSClient(url='https://idp.example.com:8443/jwks', keys=0)"


def test_an_hmac_secret_that_is_a_public_key_is_refused_at_start_up() -> None:
    # PyJWT refuses such a secret at every verification; here the configuration fails instead.
    pem = public_pem(rsa_key())

    with pytest.raises(ConfigurationError, match="MCP_AUTH_JWT_SECRET"):
        MCPAuthMiddleware(RecordingApp(), settings=settings(jwt_secret=pem))
