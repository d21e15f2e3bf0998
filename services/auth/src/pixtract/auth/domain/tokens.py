"""Access tokens (RS256 JWTs other services verify through the JWKS) and opaque secrets stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from jose import jwt

from pixtract.auth.domain.signing_keys import KeyRing
from pixtract.common.auth import ALGORITHM


def new_opaque_token() -> str:
    """256 random bits, URL-safe: refresh tokens and the secret part of API keys."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What the database keeps instead of a token. A fast hash suffices: the secret has 256 random bits."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class AccessTokenIssuer:
    keys: KeyRing
    issuer: str
    audience: str
    ttl_seconds: int

    def issue(self, user_id: str, scopes: Iterable[str], now: datetime) -> str:
        issued_at = int(now.timestamp())
        claims = {
            "sub": user_id,
            "iat": issued_at,
            "exp": issued_at + self.ttl_seconds,
            "iss": self.issuer,
            "aud": self.audience,
            "jti": uuid.uuid4().hex,
            "scope": " ".join(sorted(scopes)),
        }
        signing = self.keys.signing
        token: str = jwt.encode(claims, signing.jose_key, algorithm=ALGORITHM, headers={"kid": signing.kid})
        return token
