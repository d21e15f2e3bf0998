"""Access tokens as an attacker would make them, and (given the stack's signing key) tokens
that are signed correctly but that a careful verifier must still refuse.

Only public material is needed for the forgeries (the JWKS, a token of one's own); the
signing key is read from the local stack's key directory when the test session started it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

JWKS_PATH = "/.well-known/jwks.json"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """header.claims.signature, with whatever signature the caller brings (or none)."""
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}.{b64url(signature)}"


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header: dict[str, Any] = jwt.get_unverified_header(token)
    claims: dict[str, Any] = jwt.get_unverified_claims(token)
    return header, claims


def fetch_jwks(http: httpx.Client) -> list[dict[str, Any]]:
    response = http.get(JWKS_PATH)
    assert response.status_code == 200, response.text
    keys: list[dict[str, Any]] = response.json()["keys"]
    assert keys, "the JWKS publishes no key"
    return keys


def _modulus(jwk: dict[str, Any]) -> int:
    return int.from_bytes(b64url_decode(jwk["n"]), "big")


def jwk_public_pem(jwk: dict[str, Any]) -> bytes:
    """The published RSA key as PEM: the 'secret' of the HS256 key-confusion attack."""
    numbers = rsa.RSAPublicNumbers(e=int.from_bytes(b64url_decode(jwk["e"]), "big"), n=_modulus(jwk))
    return numbers.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def new_private_pem() -> bytes:
    """An attacker's own RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_jwk_of(private_pem: bytes, kid: str) -> dict[str, Any]:
    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    numbers = key.public_key().public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    return {
        "kty": "RSA",
        "kid": kid,
        "alg": "RS256",
        "use": "sig",
        "n": b64url(numbers.n.to_bytes(size, "big")),
        "e": b64url(numbers.e.to_bytes(3, "big")),
    }


def rs256(claims: dict[str, Any], private_pem: bytes, headers: dict[str, Any]) -> str:
    return str(jwt.encode(claims, private_pem.decode(), algorithm="RS256", headers=headers))


def hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    # By hand: python-jose (rightly) refuses a PEM key as an HMAC secret.
    signing_input = compact(header, claims).rsplit(".", 1)[0]
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def new_jti() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


@dataclass(frozen=True)
class StackSigningKey:
    """A private key of the stack's auth service, with the key id the JWKS publishes it under."""

    kid: str
    private_pem: bytes


def stack_signing_key(key_dir: Path, jwks: list[dict[str, Any]]) -> StackSigningKey | None:
    """The published key whose private half lies in `key_dir` (the auth service's key directory)."""
    published = {_modulus(jwk): jwk["kid"] for jwk in jwks}
    for pem_file in sorted(key_dir.glob("*.pem"), reverse=True):
        pem = pem_file.read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            continue
        kid = published.get(key.public_key().public_numbers().n)
        if kid is not None:
            return StackSigningKey(kid=str(kid), private_pem=pem)
    return None
