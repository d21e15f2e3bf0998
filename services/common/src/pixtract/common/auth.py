"""Verifying the caller: RS256 access tokens against the auth service's JWKS, or API keys.

Every service depends on `CurrentPrincipal`, or on `ImagesReader` / `ImagesWriter` when the
route reads or changes images; nothing else reads the Authorization header.
Only RS256 is accepted (no `none`, no HMAC: a token "signed" with the public key as an
HMAC secret is refused before any key is used). Keys come from the JWKS, cached and
refreshed when a token names an unknown `kid` (at most every few seconds, so forged kids
cannot turn us into a JWKS hammer).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from jose import jwt
from jose.exceptions import ExpiredSignatureError, JOSEError, JWTClaimsError

from pixtract.common.config import AuthSettings, ServiceSettings
from pixtract.common.errors import Problem

API_KEY_PREFIX = "pxk_"
ALGORITHM = "RS256"
JWKS_MIN_REFRESH_INTERVAL_S = 5.0
REQUIRED_CLAIMS = ("sub", "iat", "exp", "iss", "aud", "jti")


class Scope(StrEnum):
    """What a credential may do. Access tokens from a login carry every scope; an API key may carry fewer."""

    IMAGES_READ = "images:read"
    IMAGES_WRITE = "images:write"


USER_SCOPES: frozenset[str] = frozenset(Scope)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user id every read and write is scoped to."""

    user_id: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    credential_id: str = ""
    via: str = "token"  # "token" or "api_key"


class AuthenticationError(Exception):
    """The credential is missing, malformed, forged, expired or revoked."""


class TokenVerifier:
    def __init__(self, settings: AuthSettings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def verify(self, credential: str) -> Principal:
        if credential.startswith(API_KEY_PREFIX):
            return await self._introspect_api_key(credential)
        return await self._verify_jwt(credential)

    async def _verify_jwt(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError as exc:
            raise AuthenticationError("malformed token") from exc
        if header.get("alg") != ALGORITHM:
            raise AuthenticationError("unsupported token algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationError("token has no key id")
        key = await self._key(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                options={"require_" + claim: True for claim in REQUIRED_CLAIMS},
            )
        except ExpiredSignatureError as exc:
            raise AuthenticationError("token expired") from exc
        except (JWTClaimsError, JOSEError) as exc:
            raise AuthenticationError("invalid token") from exc
        scope = claims.get("scope", "")
        return Principal(
            user_id=str(claims["sub"]),
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            credential_id=str(claims["jti"]),
            via="token",
        )

    async def _key(self, kid: str) -> dict[str, Any]:
        fresh = time.monotonic() - self._fetched_at < self._settings.jwks_cache_seconds
        if kid in self._keys and fresh:
            return self._keys[kid]
        async with self._lock:
            stale_enough = time.monotonic() - self._fetched_at >= JWKS_MIN_REFRESH_INTERVAL_S
            if (kid not in self._keys or not fresh) and stale_enough:
                await self._refresh()
        if kid not in self._keys:
            raise AuthenticationError("unknown signing key")
        return self._keys[kid]

    async def _refresh(self) -> None:
        try:
            response = await self._http.get(self._settings.jwks_url, timeout=5.0)
            response.raise_for_status()
            keys = response.json()["keys"]
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            # Keep the keys we have: an auth-service blip must not log everyone out.
            self._fetched_at = time.monotonic()
            if not self._keys:
                raise AuthenticationError("signing keys unavailable") from exc
            return
        self._keys = {
            k["kid"]: k for k in keys if k.get("kty") == "RSA" and k.get("alg", ALGORITHM) == ALGORITHM and "kid" in k
        }
        self._fetched_at = time.monotonic()

    async def _introspect_api_key(self, key: str) -> Principal:
        try:
            response = await self._http.post(self._settings.introspect_url, json={"key": key}, timeout=5.0)
        except httpx.HTTPError as exc:
            raise AuthenticationError("API key could not be checked") from exc
        if response.status_code != 200:
            raise AuthenticationError("invalid API key")
        body = response.json()
        if not body.get("active"):
            raise AuthenticationError("invalid API key")
        return Principal(
            user_id=str(body["user_id"]),
            scopes=frozenset(body.get("scopes", [])),
            credential_id=str(body.get("key_id", "")),
            via="api_key",
        )


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        detail,
        slug="unauthorized",
        headers={"WWW-Authenticate": 'Bearer realm="pixtract"'},
    )


async def current_principal(request: Request) -> Principal:
    authorization = request.headers.get("authorization", "")
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise _unauthorized("Missing bearer token.")
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return await verifier.verify(credential.strip())
    except AuthenticationError as exc:
        raise _unauthorized(f"The credential was refused: {exc}.") from exc


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_scope(scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets the caller through only with `scope`: 403 `insufficient-scope` otherwise."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if scope not in principal.scopes:
            raise Problem(
                403,
                f"This credential does not have the scope {scope.value}.",
                slug="insufficient-scope",
                headers={
                    # RFC 6750 section 3.1: the error and the scope the request needs.
                    "WWW-Authenticate": f'Bearer realm="pixtract", error="insufficient_scope", scope="{scope.value}"'
                },
            )
        return principal

    check.__name__ = f"require_{scope.name.lower()}"
    return check


ImagesReader = Annotated[Principal, Depends(require_scope(Scope.IMAGES_READ))]
ImagesWriter = Annotated[Principal, Depends(require_scope(Scope.IMAGES_WRITE))]


async def internal_caller(request: Request) -> None:
    """Lets through only another Pixtract service: its bearer credential is the shared internal token.

    A service without a configured token has no internal endpoints: 404, the answer an unknown
    path gets, so neither a misconfigured deployment nor a prober learns anything. A wrong or
    missing credential, where a token is configured, is a 401.
    """
    settings: ServiceSettings = request.app.state.settings
    if settings.internal_token is None:
        raise Problem(404, "Not Found")
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    expected = settings.internal_token.get_secret_value().encode()
    # Constant time: how much of a guess matched must not show in the answer's timing.
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential.strip().encode(), expected):
        raise _unauthorized("This endpoint is for Pixtract services only.")


# On a router or route of internal endpoints: `dependencies=[InternalCaller]`.
InternalCaller = Depends(internal_caller)
