"""Registration, login, token refresh and the caller's own account."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from pixtract.auth.api.dependencies import Components, InteractivePrincipal
from pixtract.auth.api.models import LoginCredentials, RefreshTokenIn, TokenPair, UserCreate, UserOut
from pixtract.auth.domain.accounts import InvalidCredentials
from pixtract.auth.domain.emails import InvalidEmail
from pixtract.auth.domain.passwords import WeakPassword
from pixtract.auth.domain.sessions import IssuedRefreshToken, RefreshRefused, RefreshTokenReused
from pixtract.auth.domain.throttle import TooManyAttempts
from pixtract.auth.domain.users import EmailTaken, User
from pixtract.common.auth import USER_SCOPES, CurrentPrincipal
from pixtract.common.errors import Problem

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def _user_out(user: User) -> UserOut:
    return UserOut(id=user.id, email=user.email, name=user.name, created_at=user.created_at)


def _invalid_field(field: str, detail: str, slug: str) -> Problem:
    return Problem(422, detail, slug=slug, errors=[{"loc": ["body", field], "msg": detail, "type": slug}])


def _token_pair(components: Components, refresh: IssuedRefreshToken) -> TokenPair:
    issuer = components.access_tokens
    return TokenPair(
        access_token=issuer.issue(refresh.user_id, USER_SCOPES, components.clock()),
        refresh_token=refresh.token,
        expires_in=issuer.ttl_seconds,
    )


@router.post("/register", status_code=status.HTTP_201_CREATED)
async def register(body: UserCreate, components: Components) -> UserOut:
    """Create an account."""
    try:
        user = await components.accounts.register(body.email, body.password, body.name or None, components.clock())
    except InvalidEmail as exc:
        raise _invalid_field("email", f"The email address is not valid: {exc}", "invalid-email") from exc
    except WeakPassword as exc:
        raise _invalid_field("password", str(exc), "weak-password") from exc
    except EmailTaken as exc:
        raise Problem(409, "An account with this email already exists.", slug="email-taken") from exc
    return _user_out(user)


@router.post("/login")
async def login(body: LoginCredentials, request: Request, components: Components) -> TokenPair:
    """Exchange email and password for an access token and a refresh token."""
    client_ip = request.client.host if request.client else None
    now = components.clock()
    try:
        user = await components.accounts.authenticate(body.email, body.password, client_ip, now)
    except TooManyAttempts as exc:
        raise Problem(
            429,
            "Too many failed logins; try again later.",
            slug="too-many-login-attempts",
            headers={"Retry-After": str(exc.retry_after_seconds)},
        ) from exc
    except InvalidCredentials as exc:
        raise Problem(401, "Wrong email or password.", slug="invalid-credentials") from exc
    return _token_pair(components, await components.sessions.start(user.id, now))


@router.post("/refresh")
async def refresh(body: RefreshTokenIn, components: Components) -> TokenPair:
    """Trade a refresh token for new tokens; the one presented stops working."""
    try:
        rotated = await components.sessions.rotate(body.refresh_token, components.clock())
    except RefreshTokenReused as exc:
        raise Problem(
            401, "This refresh token was already used; the session has been ended.", slug="invalid-refresh-token"
        ) from exc
    except RefreshRefused as exc:
        raise Problem(401, "The refresh token is not valid; log in again.", slug="invalid-refresh-token") from exc
    return _token_pair(components, rotated)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshTokenIn, components: Components) -> Response:
    """End the session of a refresh token (unknown tokens are fine: the session is over either way)."""
    await components.sessions.end(body.refresh_token, components.clock())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me")
async def me(principal: CurrentPrincipal, components: Components) -> UserOut:
    """The caller's account."""
    user = await components.users.get(principal.user_id)
    if user is None:
        raise Problem(404, "The account does not exist.", slug="account-not-found")
    return _user_out(user)


@router.delete("/me", status_code=status.HTTP_202_ACCEPTED)
async def delete_me(principal: InteractivePrincipal, components: Components) -> Response:
    """Delete the caller's account; every service then removes the user's images, index entries and tokens."""
    if not await components.accounts.delete(principal.user_id, components.clock()):
        raise Problem(404, "The account does not exist.", slug="account-not-found")
    # Also done by the relay, crash-safe; done here too so no token outlives this answer.
    await components.deletion_relay.revoke_credentials(principal.user_id)
    components.deletion_relay.wake()
    return Response(status_code=status.HTTP_202_ACCEPTED)
