"""Request and response bodies, named by role."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from pixtract.auth.domain.passwords import MAX_PASSWORD_LENGTH
from pixtract.common.auth import Scope

MAX_EMAIL_LENGTH = 320

DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
KeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class UserCreate(BaseModel):
    email: str = Field(max_length=MAX_EMAIL_LENGTH)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    name: DisplayName | None = None


class UserOut(BaseModel):
    id: str
    email: str
    name: str | None
    created_at: datetime


class LoginCredentials(BaseModel):
    email: str = Field(max_length=MAX_EMAIL_LENGTH)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class RefreshTokenIn(BaseModel):
    refresh_token: str = Field(max_length=512)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int


class ApiKeyCreate(BaseModel):
    name: KeyName
    # None: every scope a login token has.
    scopes: list[Scope] | None = None


class ApiKeyCreated(BaseModel):
    id: str
    name: str
    key: str
    created_at: datetime


class ApiKeyOut(BaseModel):
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


class ApiKeyIntrospect(BaseModel):
    key: str = Field(max_length=512)


class ApiKeyIntrospection(BaseModel):
    active: bool
    user_id: str | None = None
    scopes: list[str] | None = None
    key_id: str | None = None


class PublicJwk(BaseModel):
    kty: str
    kid: str
    alg: str
    use: str
    n: str
    e: str


class Jwks(BaseModel):
    keys: list[PublicJwk]
