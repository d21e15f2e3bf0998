"""Forged and broken credentials are refused on every authenticated endpoint, through the ingress.

Every attack impersonates one victim (a real user with an image, an API key and a session)
and is tried against every authenticated public endpoint of every service; each refusal must
be a 401 problem document, never a 5xx, and the victim must be untouched afterwards.
Attacks that need the stack's private signing key (a correctly signed token with a wrong
claim) are skipped against a foreign stack.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.client import PixtractClient, photo_jpeg
from tests.e2e.tokens import (
    StackSigningKey,
    compact,
    fetch_jwks,
    hs256,
    jwk_public_pem,
    new_jti,
    new_private_pem,
    public_jwk_of,
    rs256,
    stack_signing_key,
    unverified_parts,
)

pytestmark = pytest.mark.e2e

PROBLEM_JSON = "application/problem+json"
FOREIGN_STACK = "needs the stack's private signing key: PIXTRACT_E2E_BASE_URL points at a foreign stack"
# Reachable without a credential by design; everything else under the public routes needs one.
OPEN_OPERATIONS = {
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/.well-known/jwks.json"),
}
PUBLIC_SERVICES = ("auth", "upload", "tagging", "search")


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str
    path: str
    json: Any = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


@dataclass(frozen=True)
class Victim:
    client: PixtractClient
    user_id: str
    image_id: str
    image_bytes: bytes
    api_key_id: str


@dataclass(frozen=True)
class AttackContext:
    victim: Victim
    attacker_token: str
    jwks: list[dict[str, Any]]
    signing_key: StackSigningKey | None
    attacker_pem: bytes

    @property
    def kid(self) -> str:
        return self.signing_key.kid if self.signing_key else str(self.jwks[-1]["kid"])

    def claims(self, **changes: Any) -> dict[str, Any]:
        """Claims exactly like the victim's real token's (fresh iat/exp/jti), with `changes` applied; None drops one."""
        _, real = unverified_parts(str(self.victim.client.token))
        now = int(time.time())
        claims = {**real, "iat": now, "exp": now + 600, "jti": new_jti()}
        for name, value in changes.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def signed(self, **changes: Any) -> str:
        if self.signing_key is None:
            pytest.skip(FOREIGN_STACK)
        return rs256(self.claims(**changes), self.signing_key.private_pem, {"kid": self.signing_key.kid})


# ----- the attacks: each gives the Authorization header to send (None: send none) --------


def _tampered(ctx: AttackContext) -> str:
    header, _, signature = ctx.attacker_token.split(".")
    _, claims = unverified_parts(ctx.attacker_token)
    forged = compact({}, {**claims, "sub": ctx.victim.user_id}).split(".")[1]
    return f"Bearer {header}.{forged}.{signature}"


def _basic(ctx: AttackContext) -> str:
    client = ctx.victim.client
    return "Basic " + base64.b64encode(f"{client.email}:{client.password}".encode()).decode()


ATTACKS: dict[str, Callable[[AttackContext], str | None]] = {
    "alg none": lambda ctx: "Bearer " + compact({"alg": "none", "typ": "JWT", "kid": ctx.kid}, ctx.claims()),
    "RS256 header, signature stripped": lambda ctx: (
        "Bearer " + compact({"alg": "RS256", "typ": "JWT", "kid": ctx.kid}, ctx.claims())
    ),
    "HS256 signed with the published public key": lambda ctx: (
        "Bearer "
        + hs256(
            {"alg": "HS256", "typ": "JWT", "kid": ctx.kid},
            ctx.claims(),
            jwk_public_pem(next(k for k in ctx.jwks if k["kid"] == ctx.kid)),
        )
    ),
    "real kid, signed by the attacker's RSA key": lambda ctx: (
        "Bearer " + rs256(ctx.claims(), ctx.attacker_pem, {"kid": ctx.kid})
    ),
    "unknown kid, signed by the attacker's RSA key": lambda ctx: (
        "Bearer " + rs256(ctx.claims(), ctx.attacker_pem, {"kid": "attacker-" + secrets.token_hex(8)})
    ),
    "attacker's public key embedded in the header (jwk)": lambda ctx: (
        "Bearer "
        + rs256(ctx.claims(), ctx.attacker_pem, {"kid": ctx.kid, "jwk": public_jwk_of(ctx.attacker_pem, ctx.kid)})
    ),
    "attacker's JWKS URL in the header (jku)": lambda ctx: (
        "Bearer "
        + rs256(
            ctx.claims(),
            ctx.attacker_pem,
            {"kid": "attacker-kid", "jku": "http://127.0.0.1:9/.well-known/jwks.json"},
        )
    ),
    "tampered payload (sub of a real token changed)": _tampered,
    "garbage": lambda ctx: "Bearer garbage.not-a.jwt",
    "random bytes": lambda ctx: "Bearer " + secrets.token_urlsafe(96),
    "fake API key": lambda ctx: "Bearer pxk_" + secrets.token_urlsafe(32),
    "no Authorization header": lambda ctx: None,
    "empty bearer ('Bearer')": lambda ctx: "Bearer",
    "empty bearer ('Bearer ', sent raw)": lambda ctx: "Bearer ",
    "wrong scheme (Basic with the victim's password)": _basic,
    "wrong scheme (Token with the victim's real token)": lambda ctx: f"Token {ctx.victim.client.token}",
    "real token without a scheme": lambda ctx: str(ctx.victim.client.token),
    # Correctly signed with the stack's own key, but with a claim that must be refused.
    "signed, wrong iss": lambda ctx: "Bearer " + ctx.signed(iss="https://evil.example"),
    "signed, wrong aud": lambda ctx: "Bearer " + ctx.signed(aud="someone-else"),
    "signed, expired": lambda ctx: "Bearer " + ctx.signed(iat=int(time.time()) - 1800, exp=int(time.time()) - 900),
    "signed, not yet valid (nbf in 10 min)": lambda ctx: "Bearer " + ctx.signed(nbf=int(time.time()) + 600),
    "signed, missing jti": lambda ctx: "Bearer " + ctx.signed(jti=None),
    "signed, missing exp": lambda ctx: "Bearer " + ctx.signed(exp=None),
    "signed, missing sub": lambda ctx: "Bearer " + ctx.signed(sub=None),
}
RAW_ATTACKS = {"empty bearer ('Bearer ', sent raw)"}  # httpx refuses to send a trailing space


# ----- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def victim(stack: Any) -> Iterator[Victim]:
    client = PixtractClient(stack.base_url)
    me = client.sign_up()
    image = photo_jpeg(3)
    uploaded = client.upload(("victim.jpg", image, "image/jpeg"))
    assert uploaded.status_code == 201, uploaded.text
    key = client.http.post("/api/v1/auth/api-keys", json={"name": "victim's script"}, headers=client.auth)
    assert key.status_code == 201, key.text
    yield Victim(client, me["id"], uploaded.json()["images"][0]["id"], image, key.json()["id"])
    client.close()


@pytest.fixture(scope="module")
def attack_context(stack: Any, victim: Victim) -> Iterator[AttackContext]:
    attacker = PixtractClient(stack.base_url)
    attacker.sign_up()
    jwks = fetch_jwks(attacker.http)
    signing_key = None
    if stack.handle is not None:
        key_dir = Path(stack.handle.service_env("auth")["PIXTRACT_AUTH_SIGNING_KEY_DIR"])
        signing_key = stack_signing_key(key_dir, jwks)
        assert signing_key is not None, f"no key in {key_dir} is published in the JWKS"
    yield AttackContext(victim, str(attacker.token), jwks, signing_key, new_private_pem())
    attacker.close()


def _static_endpoints(victim: Victim) -> list[Endpoint]:
    image, key = victim.image_id, victim.api_key_id
    upload = [("files", ("forged.jpg", photo_jpeg(11), "image/jpeg"))]
    return [
        Endpoint("GET", "/api/v1/auth/me", "/api/v1/auth/me"),
        Endpoint("DELETE", "/api/v1/auth/me", "/api/v1/auth/me"),
        Endpoint("GET", "/api/v1/auth/api-keys", "/api/v1/auth/api-keys"),
        Endpoint("POST", "/api/v1/auth/api-keys", "/api/v1/auth/api-keys", json={"name": "forged"}),
        Endpoint("DELETE", "/api/v1/auth/api-keys/{key_id}", f"/api/v1/auth/api-keys/{key}"),
        Endpoint("GET", "/api/v1/images", "/api/v1/images"),
        Endpoint("POST", "/api/v1/images", "/api/v1/images", files=upload),
        Endpoint("GET", "/api/v1/images/{image_id}", f"/api/v1/images/{image}"),
        Endpoint("GET", "/api/v1/images/{image_id}/content", f"/api/v1/images/{image}/content"),
        Endpoint("GET", "/api/v1/images/{image_id}/thumbnail", f"/api/v1/images/{image}/thumbnail"),
        Endpoint("DELETE", "/api/v1/images/{image_id}", f"/api/v1/images/{image}"),
        Endpoint("GET", "/api/v1/search", "/api/v1/search", params={"q": "victim"}),
        Endpoint("GET", "/api/v1/search/suggest", "/api/v1/search/suggest", params={"q": "vi"}),
        Endpoint("GET", "/api/v1/categories", "/api/v1/categories"),
        Endpoint("PATCH", "/api/v1/categories/{category_id}", "/api/v1/categories/animals", json={"name": "pwned"}),
    ]


def _discovered_operations(stack: Any) -> set[tuple[str, str]]:
    """Every public operation the services' own OpenAPI documents declare (local stack only)."""
    found: set[tuple[str, str]] = set()
    for service in PUBLIC_SERVICES:
        spec = httpx.get(stack.handle.endpoints.services[service] + "/openapi.json", timeout=10).json()
        for path, operations in spec["paths"].items():
            if path.startswith("/internal/"):
                continue
            found |= {(method.upper(), path) for method in operations}
    return found - OPEN_OPERATIONS


@pytest.fixture(scope="module")
def endpoints(stack: Any, victim: Victim) -> list[Endpoint]:
    listed = _static_endpoints(victim)
    if stack.handle is None:
        return listed
    known = {(e.method, e.template) for e in listed}
    fillers = {"{image_id}": victim.image_id, "{key_id}": victim.api_key_id, "{category_id}": "animals"}
    for method, template in sorted(_discovered_operations(stack) - known):
        # An endpoint added after this list was written is attacked too, with an empty JSON body.
        path = template
        for placeholder, value in fillers.items():
            path = path.replace(placeholder, value)
        listed.append(Endpoint(method, template, path, json={} if method in ("POST", "PUT", "PATCH") else None))
    return listed


# ----- sending ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes
    www_authenticate: str


def _send(session: httpx.Client, endpoint: Endpoint, authorization: str | None, *, raw: bool = False) -> Answer:
    headers = {} if authorization is None else {"Authorization": authorization}
    request = session.build_request(
        endpoint.method,
        endpoint.path,
        params=endpoint.params,
        json=endpoint.json,
        files=endpoint.files,
        headers=headers,
    )
    if not raw:
        response = session.send(request)
        return Answer(
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
            response.headers.get("www-authenticate", ""),
        )
    # http.client sends header values as they are (h11 rejects trailing whitespace).
    connection = http.client.HTTPConnection(request.url.host, request.url.port, timeout=30)
    try:
        connection.request(
            request.method, request.url.raw_path.decode(), body=request.read(), headers=dict(request.headers)
        )
        reply = connection.getresponse()
        return Answer(
            reply.status, reply.getheader("content-type", ""), reply.read(), reply.getheader("www-authenticate", "")
        )
    finally:
        connection.close()


def _problem(answer: Answer) -> dict[str, Any]:
    try:
        body = json.loads(answer.body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# ----- tests -----------------------------------------------------------------------------


def test_every_listed_endpoint_is_a_real_public_operation(stack: Any, victim: Victim) -> None:
    if stack.handle is None:
        pytest.skip("needs the services' own OpenAPI documents (not routed by the ingress)")
    listed = {(e.method, e.template) for e in _static_endpoints(victim)}
    assert listed <= _discovered_operations(stack)


def test_genuine_credentials_pass_the_door_everywhere(victim: Victim, endpoints: list[Endpoint]) -> None:
    """The control: with the victim's real token each endpoint answers something other than 401/403.

    Without side effects: deletions aim at ids that do not exist (404), the upload sends the
    victim's own image again (a duplicate), a created API key is revoked, DELETE /me is left out.
    """
    http = victim.client.http
    for endpoint in endpoints:
        if endpoint.name == "DELETE /api/v1/auth/me":
            continue
        harmless = endpoint
        if endpoint.method == "DELETE":
            harmless = Endpoint(endpoint.method, endpoint.template, endpoint.path.rsplit("/", 1)[0] + "/no-such-id")
        if endpoint.name == "POST /api/v1/images":
            harmless = Endpoint(
                "POST",
                endpoint.template,
                endpoint.path,
                files=[("files", ("again.jpg", victim.image_bytes, "image/jpeg"))],
            )
        answer = _send(http, harmless, f"Bearer {victim.client.token}")
        assert answer.status not in (401, 403), (endpoint.name, answer.status, answer.body[:300])
        assert answer.status < 500, (endpoint.name, answer.status, answer.body[:300])
        if endpoint.name == "POST /api/v1/auth/api-keys":
            created = json.loads(answer.body)["id"]
            assert http.delete(f"/api/v1/auth/api-keys/{created}", headers=victim.client.auth).status_code == 204


def test_a_token_minted_with_the_stack_key_is_accepted(attack_context: AttackContext) -> None:
    """The control for the signed attacks: the same key and claims, with nothing wrong, is accepted."""
    http = attack_context.victim.client.http
    token = attack_context.signed()
    me = http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["id"] == attack_context.victim.user_id
    attacker_me = http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {attack_context.attacker_token}"})
    assert attacker_me.status_code == 200
    assert attacker_me.json()["id"] != attack_context.victim.user_id


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_forged_credentials_are_refused_everywhere(
    attack: str, attack_context: AttackContext, endpoints: list[Endpoint]
) -> None:
    authorization = ATTACKS[attack](attack_context)
    http = attack_context.victim.client.http
    wrong: list[str] = []
    statuses: Counter[int] = Counter()
    details: set[str] = set()
    for endpoint in endpoints:
        answer = _send(http, endpoint, authorization, raw=attack in RAW_ATTACKS)
        statuses[answer.status] += 1
        details.add(str(_problem(answer).get("detail")))
        # A HEAD answer has the headers of the problem but no body.
        body_status = 401 if endpoint.method == "HEAD" else _problem(answer).get("status")
        if (
            answer.status != 401
            or answer.content_type != PROBLEM_JSON
            or body_status != 401
            or not answer.www_authenticate.startswith("Bearer")
        ):
            wrong.append(f"{endpoint.name}: {answer.status} {answer.content_type} {answer.body[:200]!r}")
    print(f"\n[attack] {attack}: {dict(statuses)} over {len(endpoints)} endpoints; details: {sorted(details)}")
    assert not wrong, f"{attack} was not refused with a 401 problem everywhere:\n" + "\n".join(wrong)


def test_the_victim_is_untouched(victim: Victim) -> None:
    client = victim.client
    assert client.http.get("/api/v1/auth/me", headers=client.auth).json()["id"] == victim.user_id
    assert client.image(victim.image_id).status_code == 200
    listing = client.http.get("/api/v1/images", headers=client.auth).json()["items"]
    assert [item["id"] for item in listing] == [victim.image_id]
    keys = client.http.get("/api/v1/auth/api-keys", headers=client.auth).json()["items"]
    assert [key["id"] for key in keys] == [victim.api_key_id]
    categories = client.http.get("/api/v1/categories", headers=client.auth).json()["items"]
    assert "pwned" not in {category["name"] for category in categories}
