"""Factories for the clients of Pixtract's backing services, built from settings.

The same production clients talk to the lite stack locally and to managed services in a
cluster: PyMongo's async API, aioboto3 (path-style, any S3-compatible endpoint) and
opensearch-py's AsyncOpenSearch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aioboto3
from botocore.config import Config as BotoConfig
from opensearchpy import AsyncOpenSearch
from pymongo import AsyncMongoClient

from pixtract.common.config import MongoSettings, OpenSearchSettings, S3Settings

MongoDocument = dict[str, Any]


def mongo_client(settings: MongoSettings) -> AsyncMongoClient[MongoDocument]:
    return AsyncMongoClient(
        settings.url.get_secret_value(),
        serverSelectionTimeoutMS=settings.server_selection_timeout_ms,
        tz_aware=True,
    )


async def ping_mongo(client: AsyncMongoClient[MongoDocument]) -> None:
    await client.admin.command("ping")


@asynccontextmanager
async def s3_client(settings: S3Settings) -> AsyncIterator[Any]:
    """An aiobotocore S3 client; path-style so any S3-compatible endpoint works."""
    session = aioboto3.Session()
    config = BotoConfig(
        s3={"addressing_style": "path"},
        # botocore would presign with SigV2 for us-east-1, which SeaweedFS refuses once a URL
        # carries response-* overrides; SigV4 works everywhere.
        signature_version="s3v4",
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        # SeaweedFS and MinIO reject the newer default CRC checksums on some operations.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    async with session.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key.get_secret_value(),
        config=config,
    ) as client:
        yield client


def opensearch_client(settings: OpenSearchSettings) -> AsyncOpenSearch:
    auth = None
    if settings.username and settings.password:
        auth = (settings.username, settings.password.get_secret_value())
    return AsyncOpenSearch(
        hosts=[settings.url],
        http_auth=auth,
        verify_certs=settings.verify_certs,
        timeout=10,
        max_retries=2,
        retry_on_timeout=True,
    )
