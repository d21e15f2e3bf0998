"""The auth API end to end on real MongoDB and Kafka: accounts, token rotation, API keys, account deletion.

The service runs under uvicorn on a free port because it verifies its own tokens like
every other service: its TokenVerifier fetches this very service's JWKS and asks its
introspection endpoint over HTTP.
"""

from __future__ import annotations

import asyncio
import socket
import stat
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from jose import jwt
from pydantic import SecretStr
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from pixtract.auth.app import create_app
from pixtract.auth.config import LoginThrottleSettings, PasswordHashingSettings, Settings
from pixtract.common.clients import MongoDocument
from pixtract.common.config import AuthSettings, Environment, KafkaSettings, MongoSettings
from pixtract.events.topics import USERS_DELETED
from pixtract.events.v1 import users_pb2
from pixtract.localstack import InfraEndpoints

pytestmark = pytest.mark.integration

LOOPBACK = "127.0.0.1"
ACCOUNT_FAILURE_LIMIT = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def auth_settings(servers: InfraEndpoints, port: int, key_dir: Path, database: str) -> Settings:
    base = f"http://{LOOPBACK}:{port}"
    return Settings(
        environment=Environment.TEST,
        host=LOOPBACK,
        port=port,
        mongo=MongoSettings(url=SecretStr(servers.mongo_url), database=database),
        # Tansu has no idempotent producer.
        kafka=KafkaSettings(bootstrap_servers=servers.kafka_bootstrap, enable_idempotence=False),
        auth=AuthSettings(
            jwks_url=f"{base}/.well-known/jwks.json", introspect_url=f"{base}/internal/v1/api-keys/introspect"
        ),
        signing_key_dir=key_dir,
        password_hashing=PasswordHashingSettings(time_cost=1, memory_cost_kib=1024, parallelism=1),
        login_throttle=LoginThrottleSettings(max_failures_per_account=ACCOUNT_FAILURE_LIMIT, max_failures_per_ip=1000),
        outbox_interval_seconds=0.5,
    )


@dataclass(frozen=True)
class RunningAuth:
    base_url: str
    settings: Settings
    http: httpx.AsyncClient
    db: AsyncDatabase[MongoDocument]


@pytest.fixture(scope="module")
async def auth_service(
    lite_servers: InfraEndpoints, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningAuth]:
    port = free_port()
    settings = auth_settings(
        lite_servers, port, tmp_path_factory.mktemp("auth-keys") / "keys", f"auth_test_{uuid.uuid4().hex[:8]}"
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=LOOPBACK, port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    for _ in range(600):
        if server.started or serving.done():
            break
        await asyncio.sleep(0.05)
    if not server.started:
        server.should_exit = True
        await serving
        raise RuntimeError("the auth service did not start")
    mongo: AsyncMongoClient[MongoDocument] = AsyncMongoClient(lite_servers.mongo_url, tz_aware=True)
    base_url = f"http://{LOOPBACK}:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=20.0) as http:
            yield RunningAuth(base_url, settings, http, mongo[settings.mongo.database])
    finally:
        await mongo.drop_database(settings.mongo.database)
        await mongo.close()
        server.should_exit = True
        await serving


PASSWORD = "correct-stapler-orbit-42"


def new_email() -> str:
    return f"Ada.{uuid.uuid4().hex[:10]}@Example.ORG"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(auth: RunningAuth, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await auth.http.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(auth: RunningAuth, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await auth.http.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_ready_with_mongo_and_kafka(auth_service: RunningAuth) -> None:
    response = await auth_service.http.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"mongo": "ok", "kafka": "ok"}


async def test_the_generated_signing_key_is_private_and_published(auth_service: RunningAuth) -> None:
    (key_file,) = Path(auth_service.settings.signing_key_dir).glob("*.pem")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    response = await auth_service.http.get("/.well-known/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert "max-age" in response.headers["cache-control"]


async def test_register_then_login_then_me(auth_service: RunningAuth) -> None:
    email = new_email()
    created = await auth_service.http.post(
        "/api/v1/auth/register", json={"email": f"  {email} ", "password": PASSWORD, "name": " Ada "}
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert set(user) == {"id", "email", "name", "created_at"}
    assert user["email"] == email.split("@")[0] + "@example.org"
    assert user["name"] == "Ada"

    tokens = await login(auth_service, email.lower())
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 900
    jwks = (await auth_service.http.get("/.well-known/jwks.json")).json()
    assert jwt.get_unverified_header(tokens["access_token"])["kid"] in {k["kid"] for k in jwks["keys"]}
    claims = jwt.get_unverified_claims(tokens["access_token"])
    assert (claims["sub"], claims["iss"], claims["aud"]) == (user["id"], "pixtract-auth", "pixtract")

    me = await auth_service.http.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json() == user


async def test_passwords_and_refresh_tokens_are_stored_only_as_hashes(auth_service: RunningAuth) -> None:
    email = new_email()
    user = await register(auth_service, email)
    tokens = await login(auth_service, email)
    stored_user = await auth_service.db["users"].find_one({"_id": user["id"]})
    assert stored_user is not None
    assert stored_user["password_hash"].startswith("$argon2id$")
    families = [f async for f in auth_service.db["refresh_families"].find({"user_id": user["id"]})]
    assert len(families) == 1
    assert tokens["refresh_token"] not in str(families[0])


async def test_register_refuses_taken_emails_weak_passwords_and_bad_addresses(auth_service: RunningAuth) -> None:
    email = new_email()
    await register(auth_service, email)
    taken = await auth_service.http.post("/api/v1/auth/register", json={"email": email.upper(), "password": PASSWORD})
    assert taken.status_code == 409
    assert taken.headers["content-type"] == "application/problem+json"
    assert taken.json()["type"].endswith("/email-taken")

    fresh = new_email()
    for password, reason in [("short", "at least 10"), ("qwertyuiop", "commonly used"), (fresh.lower(), "email")]:
        weak = await auth_service.http.post("/api/v1/auth/register", json={"email": fresh, "password": password})
        assert weak.status_code == 422, password
        assert reason in weak.json()["detail"]
        assert weak.json()["errors"][0]["loc"] == ["body", "password"]

    bad = await auth_service.http.post("/api/v1/auth/register", json={"email": "ada@", "password": PASSWORD})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["body", "email"]
    missing = await auth_service.http.post("/api/v1/auth/register", json={"email": new_email()})
    assert missing.status_code == 422


async def test_wrong_password_and_unknown_email_answer_the_same_401(auth_service: RunningAuth) -> None:
    email = new_email()
    await register(auth_service, email)
    wrong = await auth_service.http.post("/api/v1/auth/login", json={"email": email, "password": "wrong-password-1"})
    unknown = await auth_service.http.post("/api/v1/auth/login", json={"email": new_email(), "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_repeated_failures_lock_the_account_with_retry_after(auth_service: RunningAuth) -> None:
    email = new_email()
    await register(auth_service, email)
    for _ in range(ACCOUNT_FAILURE_LIMIT):
        failed = await auth_service.http.post("/api/v1/auth/login", json={"email": email, "password": "wrong-pass-99"})
        assert failed.status_code == 401
    locked = await auth_service.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 900
    # Another account from the same address is not affected.
    other = new_email()
    await register(auth_service, other)
    await login(auth_service, other)


async def test_refresh_rotates_and_reuse_ends_the_session(auth_service: RunningAuth) -> None:
    email = new_email()
    await register(auth_service, email)
    first = await login(auth_service, email)
    refreshed = await auth_service.http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    me = await auth_service.http.get("/api/v1/auth/me", headers=bearer(second["access_token"]))
    assert me.status_code == 200

    replay = await auth_service.http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    after_reuse = await auth_service.http.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after_reuse.status_code == 401
    # Other sessions of the same user live on.
    other_session = await login(auth_service, email)
    still = await auth_service.http.post("/api/v1/auth/refresh", json={"refresh_token": other_session["refresh_token"]})
    assert still.status_code == 200


async def test_concurrent_refreshes_with_one_token_end_the_session(auth_service: RunningAuth) -> None:
    email = new_email()
    await register(auth_service, email)
    token = (await login(auth_service, email))["refresh_token"]
    answers = await asyncio.gather(
        *(auth_service.http.post("/api/v1/auth/refresh", json={"refresh_token": token}) for _ in range(3))
    )
    assert sorted(a.status_code for a in answers) == [200, 401, 401]
    (winner,) = [a.json() for a in answers if a.status_code == 200]
    late = await auth_service.http.post("/api/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]})
    assert late.status_code == 401


async def test_logout_revokes_the_refresh_token_and_accepts_unknown_ones(auth_service: RunningAuth) -> None:
    email = new_email()
    await register(auth_service, email)
    tokens = await login(auth_service, email)
    out = await auth_service.http.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert out.status_code == 204
    refused = await auth_service.http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refused.status_code == 401
    unknown = await auth_service.http.post("/api/v1/auth/logout", json={"refresh_token": "never-issued"})
    assert unknown.status_code == 204


async def test_requests_without_or_with_a_forged_token_are_refused(auth_service: RunningAuth) -> None:
    assert (await auth_service.http.get("/api/v1/auth/me")).status_code == 401
    forged = await auth_service.http.get("/api/v1/auth/me", headers=bearer("eyJhbGciOiJub25lIn0.e30."))
    assert forged.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"


async def test_api_keys_lifecycle(auth_service: RunningAuth) -> None:
    email = new_email()
    user = await register(auth_service, email)
    access = (await login(auth_service, email))["access_token"]

    created = await auth_service.http.post(
        "/api/v1/auth/api-keys", json={"name": "backup script", "scopes": ["images:read"]}, headers=bearer(access)
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert set(key) == {"id", "name", "key", "created_at"}
    assert key["key"].startswith("pxk_")
    stored = await auth_service.db["api_keys"].find_one({"_id": key["id"]})
    assert stored is not None
    assert key["key"] not in str(stored)

    # The key works as a bearer credential: the service introspects it over HTTP like any other would.
    me = await auth_service.http.get("/api/v1/auth/me", headers=bearer(key["key"]))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == user["id"]
    introspected = await auth_service.http.post("/internal/v1/api-keys/introspect", json={"key": key["key"]})
    assert introspected.json() == {
        "active": True,
        "user_id": user["id"],
        "scopes": ["images:read"],
        "key_id": key["id"],
    }
    assert (await auth_service.http.post("/internal/v1/api-keys/introspect", json={"key": "pxk_nope"})).json() == {
        "active": False
    }

    listed = await auth_service.http.get("/api/v1/auth/api-keys", headers=bearer(access))
    (item,) = listed.json()["items"]
    assert set(item) == {"id", "name", "created_at", "last_used_at"}
    assert item["last_used_at"] is not None

    # A key cannot mint more keys or manage them.
    minted = await auth_service.http.post("/api/v1/auth/api-keys", json={"name": "more"}, headers=bearer(key["key"]))
    assert minted.status_code == 403

    bad_scope = await auth_service.http.post(
        "/api/v1/auth/api-keys", json={"name": "x", "scopes": ["admin"]}, headers=bearer(access)
    )
    assert bad_scope.status_code == 422

    stranger_email = new_email()
    await register(auth_service, stranger_email)
    stranger = (await login(auth_service, stranger_email))["access_token"]
    theirs = await auth_service.http.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=bearer(stranger))
    assert theirs.status_code == 404
    missing = await auth_service.http.delete(f"/api/v1/auth/api-keys/{uuid.uuid4()}", headers=bearer(access))
    assert missing.status_code == 404
    assert theirs.json()["type"] == missing.json()["type"]

    deleted = await auth_service.http.delete(f"/api/v1/auth/api-keys/{key['id']}", headers=bearer(access))
    assert deleted.status_code == 204
    assert (await auth_service.http.get("/api/v1/auth/me", headers=bearer(key["key"]))).status_code == 401
    assert (await auth_service.http.get("/api/v1/auth/api-keys", headers=bearer(access))).json() == {"items": []}


async def _user_deleted_events(auth: RunningAuth, user_id: str, timeout: float = 20.0) -> list[users_pb2.UserDeleted]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=auth.settings.kafka.bootstrap_servers, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    # Assigned, not subscribed: no group to join, so no rebalance wait.
    consumer.assign([TopicPartition(USERS_DELETED.name, p) for p in range(USERS_DELETED.partitions)])
    found: list[users_pb2.UserDeleted] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not found and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key == user_id.encode():
                        headers = dict(record.headers)
                        assert headers["event-type"] == b"pixtract.events.v1.UserDeleted"
                        found.append(users_pb2.UserDeleted.FromString(record.value))
    finally:
        await consumer.stop()
    return found


async def test_delete_me_revokes_everything_and_publishes_users_deleted(auth_service: RunningAuth) -> None:
    email = new_email()
    user = await register(auth_service, email)
    tokens = await login(auth_service, email)
    access = tokens["access_token"]
    key = (await auth_service.http.post("/api/v1/auth/api-keys", json={"name": "k"}, headers=bearer(access))).json()

    deleted = await auth_service.http.delete("/api/v1/auth/me", headers=bearer(access))
    assert deleted.status_code == 202

    (event,) = await _user_deleted_events(auth_service, user["id"])
    assert event.user_id == user["id"]
    assert event.HasField("deleted_at")

    assert (await auth_service.http.get("/api/v1/auth/me", headers=bearer(access))).status_code == 404
    assert (await auth_service.http.get("/api/v1/auth/me", headers=bearer(key["key"]))).status_code == 401
    refresh = await auth_service.http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    gone = await auth_service.http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert gone.status_code == 401
    # The relay dropped the record once the event was out; the email is free again.
    for _ in range(100):
        if await auth_service.db["users"].find_one({"_id": user["id"]}) is None:
            break
        await asyncio.sleep(0.05)
    assert await auth_service.db["users"].find_one({"_id": user["id"]}) is None
    again = await register(auth_service, email)
    assert again["id"] != user["id"]


async def test_an_api_key_cannot_delete_the_account(auth_service: RunningAuth) -> None:
    email = new_email()
    await register(auth_service, email)
    access = (await login(auth_service, email))["access_token"]
    key = (await auth_service.http.post("/api/v1/auth/api-keys", json={"name": "k"}, headers=bearer(access))).json()
    refused = await auth_service.http.delete("/api/v1/auth/me", headers=bearer(key["key"]))
    assert refused.status_code == 403
    assert (await auth_service.http.get("/api/v1/auth/me", headers=bearer(access))).status_code == 200
