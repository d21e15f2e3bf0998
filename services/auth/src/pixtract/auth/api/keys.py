"""Public signing keys and API-key introspection: what other services call to verify callers."""

from __future__ import annotations

from fastapi import APIRouter, Response

from pixtract.auth.api.dependencies import Components
from pixtract.auth.api.models import ApiKeyIntrospect, ApiKeyIntrospection, Jwks
from pixtract.auth.domain.api_keys import introspect_api_key

# Verifiers cache keys themselves and refetch on an unknown kid; this only spares repeat fetches.
JWKS_MAX_AGE_S = 60

public_router = APIRouter(tags=["keys"])
# Under /internal/: the ingress never routes it, only the cluster network reaches it.
internal_router = APIRouter(prefix="/internal/v1", tags=["internal"])


@public_router.get("/.well-known/jwks.json")
async def jwks(components: Components, response: Response) -> Jwks:
    """The public keys that verify access tokens (RFC 7517)."""
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_S}"
    return Jwks.model_validate(components.key_ring.jwks())


@internal_router.post("/api-keys/introspect", response_model_exclude_none=True)
async def introspect(body: ApiKeyIntrospect, components: Components) -> ApiKeyIntrospection:
    """Whether an API key is live, and whose it is."""
    key = await introspect_api_key(components.api_keys, body.key, components.clock())
    if key is None:
        return ApiKeyIntrospection(active=False)
    return ApiKeyIntrospection(active=True, user_id=key.user_id, scopes=list(key.scopes), key_id=key.id)
