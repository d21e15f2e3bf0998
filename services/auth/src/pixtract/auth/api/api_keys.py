"""The caller's API keys."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from pixtract.auth.api.dependencies import Components, InteractivePrincipal
from pixtract.auth.api.models import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut
from pixtract.auth.domain.api_keys import ApiKey, new_api_key
from pixtract.auth.domain.tokens import secret_hash
from pixtract.common.auth import USER_SCOPES
from pixtract.common.errors import Problem

router = APIRouter(prefix="/api/v1/auth/api-keys", tags=["api keys"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_api_key(body: ApiKeyCreate, principal: InteractivePrincipal, components: Components) -> ApiKeyCreated:
    """Create an API key; the key is shown in this answer only."""
    scopes = sorted(USER_SCOPES if body.scopes is None else {str(scope) for scope in body.scopes})
    secret = new_api_key()
    key = ApiKey(
        id=str(uuid.uuid4()),
        user_id=principal.user_id,
        name=body.name,
        scopes=tuple(scopes),
        created_at=components.clock(),
    )
    await components.api_keys.insert(key, secret_hash(secret))
    return ApiKeyCreated(id=key.id, name=key.name, key=secret, created_at=key.created_at)


@router.get("")
async def list_api_keys(principal: InteractivePrincipal, components: Components) -> ApiKeyList:
    """The caller's API keys (never the keys themselves)."""
    keys = await components.api_keys.list_for_user(principal.user_id)
    return ApiKeyList(
        items=[ApiKeyOut(id=k.id, name=k.name, created_at=k.created_at, last_used_at=k.last_used_at) for k in keys]
    )


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_api_key(key_id: str, principal: InteractivePrincipal, components: Components) -> Response:
    """Revoke an API key."""
    if not await components.api_keys.delete(principal.user_id, key_id):
        raise Problem(404, "No such API key.", slug="api-key-not-found")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
