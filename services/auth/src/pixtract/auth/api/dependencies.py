"""What routes depend on: the service's parts (built in the lifespan) and who is calling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from pixtract.auth.domain.accounts import Accounts
from pixtract.auth.domain.api_keys import ApiKeyStore
from pixtract.auth.domain.sessions import RefreshSessions
from pixtract.auth.domain.signing_keys import KeyRing
from pixtract.auth.domain.tokens import AccessTokenIssuer
from pixtract.auth.domain.users import UserStore
from pixtract.auth.outbox import UserDeletionRelay
from pixtract.common.auth import CurrentPrincipal, Principal
from pixtract.common.errors import Problem


@dataclass(frozen=True)
class AuthComponents:
    accounts: Accounts
    users: UserStore
    sessions: RefreshSessions
    access_tokens: AccessTokenIssuer
    api_keys: ApiKeyStore
    key_ring: KeyRing
    deletion_relay: UserDeletionRelay
    clock: Callable[[], datetime]


def auth_components(request: Request) -> AuthComponents:
    components: AuthComponents = request.app.state.auth
    return components


Components = Annotated[AuthComponents, Depends(auth_components)]


def interactive_principal(principal: CurrentPrincipal) -> Principal:
    """Managing credentials and the account needs a login token: a leaked API key must not mint more keys."""
    if principal.via != "token":
        raise Problem(403, "This action needs a login token, not an API key.", slug="login-token-required")
    return principal


InteractivePrincipal = Annotated[Principal, Depends(interactive_principal)]
