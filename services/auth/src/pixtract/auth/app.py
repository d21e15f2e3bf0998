"""The auth service: accounts, tokens and API keys over HTTP, and the users.deleted outbox relay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial

import httpx
from fastapi import FastAPI

from pixtract.auth.adapters.api_keys import MongoApiKeyStore
from pixtract.auth.adapters.key_files import load_key_ring
from pixtract.auth.adapters.login_attempts import MongoAttemptCounter
from pixtract.auth.adapters.refresh_families import MongoRefreshFamilyStore
from pixtract.auth.adapters.users import MongoUserStore
from pixtract.auth.api import accounts, api_keys, keys
from pixtract.auth.api.dependencies import AuthComponents
from pixtract.auth.config import Settings
from pixtract.auth.domain.accounts import Accounts
from pixtract.auth.domain.passwords import PasswordHashing
from pixtract.auth.domain.sessions import RefreshSessions
from pixtract.auth.domain.throttle import CountingLoginThrottle, LoginThrottle, NoLoginThrottle
from pixtract.auth.domain.tokens import AccessTokenIssuer
from pixtract.auth.outbox import UserDeletionRelay
from pixtract.common.auth import TokenVerifier
from pixtract.common.clients import mongo_client, ping_mongo
from pixtract.common.config import Environment
from pixtract.common.http import create_service_app
from pixtract.common.kafka import EventPublisher
from pixtract.common.logging import get_logger

log = get_logger(__name__)


def utc_now() -> datetime:
    """Now, at the millisecond precision BSON dates keep, so an answer and a later read agree."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Fails the start (a clear message, no traceback hunt) when production has no key.
        key_ring = load_key_ring(
            settings.signing_key_dir,
            settings.signing_key_file,
            may_generate=settings.environment is not Environment.PRODUCTION,
            now=utc_now(),
        )
        log.info("signing keys loaded", signing_kid=key_ring.signing.kid, published=len(key_ring.jwks()["keys"]))
        hashing = settings.password_hashing
        executor = ThreadPoolExecutor(max_workers=hashing.workers, thread_name_prefix="argon2")
        passwords = await asyncio.get_running_loop().run_in_executor(
            executor,
            partial(
                PasswordHashing,
                time_cost=hashing.time_cost,
                memory_cost_kib=hashing.memory_cost_kib,
                parallelism=hashing.parallelism,
            ),
        )
        mongo = mongo_client(settings.mongo)
        db = mongo[settings.mongo.database]
        users, families, api_key_store = MongoUserStore(db), MongoRefreshFamilyStore(db), MongoApiKeyStore(db)
        attempts = MongoAttemptCounter(db)
        for store in (users, families, api_key_store, attempts):
            await store.create_indexes()
        limits = settings.login_throttle
        throttle: LoginThrottle = (
            CountingLoginThrottle(
                attempts,
                timedelta(seconds=limits.window_seconds),
                limits.max_failures_per_account,
                limits.max_failures_per_ip,
            )
            if limits.enabled
            else NoLoginThrottle()
        )
        publisher = EventPublisher(settings.kafka, client_id="auth")
        await publisher.start()
        relay = UserDeletionRelay(users, families, api_key_store, publisher, settings.outbox_interval_seconds)
        relay.start()
        http = httpx.AsyncClient()
        # This service verifies its own tokens like every other one: through its JWKS
        # endpoint (fetched lazily at the first authenticated request).
        app.state.token_verifier = TokenVerifier(settings.auth, http)
        app.state.auth = AuthComponents(
            accounts=Accounts(users, passwords, throttle, executor),
            users=users,
            sessions=RefreshSessions(families, timedelta(seconds=settings.refresh_token_ttl_seconds)),
            access_tokens=AccessTokenIssuer(
                key_ring, settings.auth.issuer, settings.auth.audience, settings.access_token_ttl_seconds
            ),
            api_keys=api_key_store,
            key_ring=key_ring,
            deletion_relay=relay,
            clock=utc_now,
        )
        app.state.readiness = {"mongo": partial(ping_mongo, mongo), "kafka": publisher.ping}
        try:
            yield
        finally:
            await relay.stop()
            await http.aclose()
            await publisher.stop()
            await mongo.close()
            executor.shutdown(wait=True)

    return create_service_app(
        settings,
        title="Pixtract auth",
        lifespan=lifespan,
        routers=[accounts.router, api_keys.router, keys.public_router, keys.internal_router],
    )
