"""RSA signing keys: RFC 7638 key ids, RFC 7517 public JWKs, and the ring of keys the service holds."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk

from pixtract.common.auth import ALGORITHM

MIN_KEY_BITS = 2048
NEW_KEY_BITS = 2048


class SigningKeyError(Exception):
    """A key cannot be used (not RSA, too short, encrypted, unreadable) or none is available."""


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def rsa_public_jwk(modulus: int, exponent: int) -> dict[str, str]:
    """The public JWK of an RSA key, its kid being the RFC 7638 thumbprint."""
    # RFC 7638: the required members only, lexicographic order, no whitespace.
    required = {"e": _b64url_uint(exponent), "kty": "RSA", "n": _b64url_uint(modulus)}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode("ascii")
    return {**required, "kid": kid, "alg": ALGORITHM, "use": "sig"}


@dataclass(frozen=True)
class SigningKey:
    kid: str
    public_jwk: dict[str, str]
    # python-jose's key object, built once: constructing it per token would re-parse the PEM.
    jose_key: Any = field(repr=False)

    @classmethod
    def from_pem(cls, pem: bytes, *, source: str = "key") -> SigningKey:
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except TypeError as exc:
            raise SigningKeyError(f"{source}: the key is encrypted; store it without a passphrase") from exc
        except ValueError as exc:
            raise SigningKeyError(f"{source}: not a PEM private key ({exc})") from exc
        if not isinstance(private, rsa.RSAPrivateKey):
            raise SigningKeyError(f"{source}: an RSA key is required for {ALGORITHM}, found {type(private).__name__}")
        if private.key_size < MIN_KEY_BITS:
            raise SigningKeyError(f"{source}: {private.key_size}-bit RSA key; at least {MIN_KEY_BITS} bits required")
        numbers = private.public_key().public_numbers()
        public_jwk = rsa_public_jwk(numbers.n, numbers.e)
        return cls(public_jwk["kid"], public_jwk, jwk.construct(private, ALGORITHM))


def generate_private_key_pem(bits: int = NEW_KEY_BITS) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class KeyRing:
    """Every key the service holds: one signs, all verify (old keys stay published after a rotation)."""

    def __init__(self, signing: SigningKey, published: Sequence[SigningKey] = ()) -> None:
        self.signing = signing
        self._published = {k.kid: k for k in (*published, signing)}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [dict(k.public_jwk) for k in self._published.values()]}
