"""Access tokens issued here verify with the shared TokenVerifier; forged ones do not."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jose import jwt

from pixtract.auth.domain.signing_keys import KeyRing, SigningKey
from pixtract.auth.domain.tokens import AccessTokenIssuer, new_opaque_token, secret_hash
from pixtract.common.auth import AuthenticationError, TokenVerifier
from pixtract.common.config import AuthSettings

SETTINGS = AuthSettings(issuer="pixtract-auth", audience="pixtract")


def verifier(ring: KeyRing, settings: AuthSettings = SETTINGS) -> tuple[TokenVerifier, list[httpx.Request]]:
    """A TokenVerifier whose JWKS fetches are answered in memory; also returns the requests it made."""
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=ring.jwks())

    return TokenVerifier(settings, httpx.AsyncClient(transport=httpx.MockTransport(answer))), requests


def issuer(ring: KeyRing, *, audience: str = "pixtract", iss: str = "pixtract-auth") -> AccessTokenIssuer:
    return AccessTokenIssuer(ring, issuer=iss, audience=audience, ttl_seconds=900)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.get_unverified_claims(token)
    return claims


async def test_issued_token_has_every_claim_and_the_key_id(signing_key: SigningKey) -> None:
    ring = KeyRing(signing_key)
    now = datetime.now(UTC)
    token = issuer(ring).issue("user-1", ["images:write", "images:read"], now)
    header = jwt.get_unverified_header(token)
    claims = claims_of(token)
    assert header["alg"] == "RS256"
    assert header["kid"] == signing_key.kid
    assert claims["sub"] == "user-1"
    assert claims["iat"] == int(now.timestamp())
    assert claims["exp"] - claims["iat"] == 900
    assert claims["iss"] == "pixtract-auth"
    assert claims["aud"] == "pixtract"
    assert claims["scope"] == "images:read images:write"
    assert len(claims["jti"]) >= 32
    assert claims_of(issuer(ring).issue("user-1", [], now))["jti"] != claims["jti"]


async def test_token_verifies_with_the_shared_verifier_through_the_jwks(signing_key: SigningKey) -> None:
    ring = KeyRing(signing_key)
    token = issuer(ring).issue("user-1", ["images:read", "images:write"], datetime.now(UTC))
    check, requests = verifier(ring)
    principal = await check.verify(token)
    assert principal.user_id == "user-1"
    assert principal.scopes == {"images:read", "images:write"}
    assert principal.credential_id == claims_of(token)["jti"]
    assert principal.via == "token"
    assert [str(r.url) for r in requests] == [SETTINGS.jwks_url]


async def test_after_a_rotation_tokens_of_the_old_key_still_verify(
    signing_key: SigningKey, other_key: SigningKey
) -> None:
    before = issuer(KeyRing(signing_key)).issue("user-1", [], datetime.now(UTC))
    rotated = KeyRing(other_key, [signing_key])
    after = issuer(rotated).issue("user-1", [], datetime.now(UTC))
    assert jwt.get_unverified_header(after)["kid"] == other_key.kid
    check, _ = verifier(rotated)
    assert (await check.verify(before)).user_id == "user-1"
    assert (await check.verify(after)).user_id == "user-1"


def test_jwks_publishes_public_rsa_members_only(signing_key: SigningKey, other_key: SigningKey) -> None:
    keys = KeyRing(other_key, [signing_key]).jwks()["keys"]
    assert {k["kid"] for k in keys} == {signing_key.kid, other_key.kid}
    for key in keys:
        assert set(key) == {"kty", "kid", "alg", "use", "n", "e"}
        assert (key["kty"], key["alg"], key["use"], key["e"]) == ("RSA", "RS256", "sig", "AQAB")


def test_opaque_tokens_are_random_and_stored_as_sha256() -> None:
    token = new_opaque_token()
    assert len(token) >= 43
    assert token != new_opaque_token()
    assert secret_hash(token) == hashlib.sha256(token.encode()).hexdigest()


# ----- forged tokens ---------------------------------------------------------------------


def _unsigned_parts(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"


def _valid_claims(now: datetime) -> dict[str, Any]:
    iat = int(now.timestamp())
    return {"sub": "victim", "iat": iat, "exp": iat + 900, "iss": "pixtract-auth", "aud": "pixtract", "jti": "x" * 32}


async def _refused(token: str, ring: KeyRing, reason: str) -> None:
    check, _ = verifier(ring)
    with pytest.raises(AuthenticationError, match=reason):
        await check.verify(token)


async def test_alg_none_is_refused(signing_key: SigningKey) -> None:
    token = _unsigned_parts({"alg": "none", "typ": "JWT", "kid": signing_key.kid}, _valid_claims(datetime.now(UTC)))
    await _refused(token + ".", KeyRing(signing_key), "unsupported token algorithm")


async def test_hs256_signed_with_the_public_key_is_refused(signing_key: SigningKey) -> None:
    # The classic key-confusion attack: the public key (which anyone can fetch) used as an HMAC secret.
    public_pem = signing_key.jose_key.public_key().to_pem()
    signing_input = _unsigned_parts(
        {"alg": "HS256", "typ": "JWT", "kid": signing_key.kid}, _valid_claims(datetime.now(UTC))
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    await _refused(f"{signing_input}.{b64url(signature)}", KeyRing(signing_key), "unsupported token algorithm")


async def test_a_key_id_not_in_the_jwks_is_refused(signing_key: SigningKey, other_key: SigningKey) -> None:
    token = issuer(KeyRing(other_key)).issue("victim", [], datetime.now(UTC))
    await _refused(token, KeyRing(signing_key), "unknown signing key")


async def test_a_published_key_id_on_a_token_signed_by_another_key_is_refused(
    signing_key: SigningKey, other_key: SigningKey
) -> None:
    forged = jwt.encode(
        _valid_claims(datetime.now(UTC)), other_key.jose_key, algorithm="RS256", headers={"kid": signing_key.kid}
    )
    await _refused(forged, KeyRing(signing_key), "invalid token")


async def test_a_tampered_payload_is_refused(signing_key: SigningKey) -> None:
    ring = KeyRing(signing_key)
    header, _, signature = issuer(ring).issue("mallory", [], datetime.now(UTC)).split(".")
    tampered_claims = {**_valid_claims(datetime.now(UTC)), "sub": "victim"}
    tampered = f"{header}.{b64url(json.dumps(tampered_claims).encode())}.{signature}"
    await _refused(tampered, ring, "invalid token")


async def test_an_expired_token_is_refused(signing_key: SigningKey) -> None:
    ring = KeyRing(signing_key)
    token = issuer(ring).issue("user-1", [], datetime.now(UTC) - timedelta(minutes=16))
    await _refused(token, ring, "token expired")


async def test_a_token_for_another_audience_is_refused(signing_key: SigningKey) -> None:
    ring = KeyRing(signing_key)
    token = issuer(ring, audience="someone-else").issue("user-1", [], datetime.now(UTC))
    await _refused(token, ring, "invalid token")


async def test_a_token_from_another_issuer_is_refused(signing_key: SigningKey) -> None:
    ring = KeyRing(signing_key)
    token = issuer(ring, iss="https://evil.example").issue("user-1", [], datetime.now(UTC))
    await _refused(token, ring, "invalid token")


async def test_a_token_not_yet_valid_is_refused(signing_key: SigningKey) -> None:
    claims = {**_valid_claims(datetime.now(UTC)), "nbf": int(datetime.now(UTC).timestamp()) + 600}
    token = jwt.encode(claims, signing_key.jose_key, algorithm="RS256", headers={"kid": signing_key.kid})
    await _refused(token, KeyRing(signing_key), "invalid token")


async def test_a_token_without_a_jti_is_refused(signing_key: SigningKey) -> None:
    claims = _valid_claims(datetime.now(UTC))
    del claims["jti"]
    token = jwt.encode(claims, signing_key.jose_key, algorithm="RS256", headers={"kid": signing_key.kid})
    await _refused(token, KeyRing(signing_key), "invalid token")


def test_the_published_modulus_is_the_signing_keys_own(signing_key: SigningKey) -> None:
    public = KeyRing(signing_key).jwks()["keys"][0]
    private_numbers = signing_key.jose_key.prepared_key.private_numbers()
    assert int.from_bytes(base64.urlsafe_b64decode(public["n"] + "=="), "big") == private_numbers.public_numbers.n
