"""The upload service in-process (its real lifespan) against the real lite servers.

Tokens are not verified here: a stand-in verifier takes the bearer token as the user id, so
each test can act as any number of users. Token verification is pixtract.common's and is
tested there.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from pixtract.common.auth import USER_SCOPES, Principal
from pixtract.common.clients import MongoDocument
from pixtract.common.kafka import EventPublisher
from pixtract.upload.app import create_app
from pixtract.upload.config import Settings
from tests.integration.settings import kafka_settings, mongo_settings, running, s3_settings, started_publisher

MAX_FILE_BYTES = 2 * 1024 * 1024


class UserIdVerifier:
    """Takes the bearer token as the caller's user id."""

    async def verify(self, credential: str) -> Principal:
        return Principal(user_id=credential, scopes=USER_SCOPES)


@pytest.fixture(scope="module")
def upload_settings(lite_servers: Any) -> Settings:
    suffix = uuid.uuid4().hex[:8]
    return Settings(
        kafka=kafka_settings(lite_servers),
        mongo=mongo_settings(lite_servers, database=f"media-test-{suffix}"),
        # A bucket of its own, created by the service's lifespan (ensure_bucket).
        s3=s3_settings(lite_servers, bucket=f"upload-test-{suffix}"),
        max_file_bytes=MAX_FILE_BYTES,
        max_files=5,
        outbox_sweep_seconds=0.2,
    )


@pytest.fixture(scope="module")
async def upload_app(upload_settings: Settings) -> AsyncIterator[Any]:
    async with running(create_app(upload_settings)) as app:
        app.state.token_verifier = UserIdVerifier()
        yield app


@pytest.fixture
async def client(upload_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=upload_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://upload.test") as http:
        yield http


@pytest.fixture
def user() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
async def images_collection(upload_settings: Settings) -> AsyncIterator[Any]:
    mongo: AsyncMongoClient[MongoDocument] = AsyncMongoClient(
        upload_settings.mongo.url.get_secret_value(), tz_aware=True
    )
    yield mongo[upload_settings.mongo.database]["images"]
    await mongo.drop_database(upload_settings.mongo.database)
    await mongo.close()


@pytest.fixture(scope="module")
async def publisher(upload_settings: Settings) -> AsyncIterator[EventPublisher]:
    async with started_publisher(upload_settings.kafka, client_id="upload-test") as pub:
        yield pub
