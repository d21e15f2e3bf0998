"""What integration tests build from `lite_servers` the same way: settings that point a service
at the test servers, a started publisher, and an app running its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import SecretStr

from pixtract.common.config import KafkaSettings, MongoSettings, S3Settings
from pixtract.common.kafka import EventPublisher
from pixtract.localstack import InfraEndpoints


def kafka_settings(
    lite_servers: InfraEndpoints, *, max_retries: int = 3, retry_backoff_s: float = 0.05
) -> KafkaSettings:
    """Kafka on the test broker, tuned for speed; a test that exhausts retries sets `max_retries`."""
    return KafkaSettings(
        bootstrap_servers=lite_servers.kafka_bootstrap,
        # The lite broker (Tansu) has no idempotent producer.
        enable_idempotence=False,
        # Joining a group waits half the session timeout on Tansu: short, so consumers start fast.
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        max_retries=max_retries,
        # Tests that exhaust the retries on purpose should not sit out long back-offs.
        retry_backoff_s=retry_backoff_s,
    )


def s3_settings(lite_servers: InfraEndpoints, bucket: str | None = None) -> S3Settings:
    """S3 on the test server, in the shared bucket, or in `bucket` (which the service's lifespan creates)."""
    return S3Settings(
        endpoint_url=lite_servers.s3_endpoint,
        region=lite_servers.s3_region,
        access_key_id=lite_servers.s3_access_key_id,
        secret_access_key=SecretStr(lite_servers.s3_secret_access_key),
        bucket=bucket or lite_servers.s3_bucket,
    )


def mongo_settings(lite_servers: InfraEndpoints, database: str) -> MongoSettings:
    """MongoDB on the test server; a `database` of the caller's own keeps tests from seeing each other's data."""
    return MongoSettings(url=SecretStr(lite_servers.mongo_url), database=database)


@asynccontextmanager
async def started_publisher(kafka: KafkaSettings, client_id: str) -> AsyncIterator[EventPublisher]:
    """A publisher for the block, stopped after it even when the block fails."""
    publisher = EventPublisher(kafka, client_id=client_id)
    await publisher.start()
    try:
        yield publisher
    finally:
        await publisher.stop()


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """The app with its lifespan entered, as a server runs it: its consumers and clients started."""
    async with app.router.lifespan_context(app):
        yield app
