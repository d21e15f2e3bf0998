"""The search service: keeps the image index up to date from events and answers searches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from pixtract.common.auth import TokenVerifier
from pixtract.common.clients import opensearch_client
from pixtract.common.http import create_service_app
from pixtract.common.kafka import EventConsumer, EventPublisher
from pixtract.common.logging import get_logger
from pixtract.events.topics import (
    IMAGES_DELETED,
    IMAGES_TAGGED,
    IMAGES_TEXT_EXTRACTED,
    IMAGES_UPLOADED,
    USERS_DELETED,
)
from pixtract.search.adapters.opensearch import ImageIndex, IndexMaintenance
from pixtract.search.api.search import router as search_router
from pixtract.search.config import Settings
from pixtract.search.consumers.indexing import IndexingHandlers
from pixtract.search.domain.mapping import MAPPING_VERSION
from pixtract.search.reindex import BackgroundRebuild, maintenance_for, rebuild_from_upload

log = get_logger(__name__)


async def _check_index(maintenance: IndexMaintenance, rebuild: BackgroundRebuild, settings: Settings) -> None:
    """Start a rebuild if the index is empty (and that is wanted); warn when its mapping is outdated."""
    if settings.reindex_on_empty_index and not rebuild.running and await maintenance.count() == 0:
        log.info("search index is empty; rebuilding it from the upload service")
        rebuild.request()
    version = await maintenance.mapping_version()
    if version is not None and version < MAPPING_VERSION:
        log.warning(
            "the live index was built with an older mapping; run `python -m pixtract.search reindex`",
            index_mapping_version=version,
            mapping_version=MAPPING_VERSION,
        )


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = opensearch_client(settings.opensearch)
        http = httpx.AsyncClient()
        publisher = EventPublisher(settings.kafka, client_id=settings.service_name)
        consumer = EventConsumer(settings.kafka, group_id=settings.service_name, publisher=publisher)
        rebuild = BackgroundRebuild(lambda: rebuild_from_upload(client, http, settings))
        try:
            index = ImageIndex(
                client,
                settings.opensearch.index_alias,
                shards=settings.index_shards,
                replicas=settings.index_replicas,
                # An index created from nothing is filled from the upload service's records.
                on_created=rebuild.request if settings.reindex_on_empty_index else None,
            )
            # Before any consumer runs: a write must never meet a missing index.
            await index.ensure_index()
            await _check_index(maintenance_for(client, settings), rebuild, settings)
            await publisher.start()
            handlers = IndexingHandlers(index, publisher)
            consumer.on(IMAGES_UPLOADED, handlers.on_uploaded)
            consumer.on(IMAGES_TAGGED, handlers.on_tagged)
            consumer.on(IMAGES_TEXT_EXTRACTED, handlers.on_text_extracted)
            consumer.on(IMAGES_DELETED, handlers.on_image_deleted)
            consumer.on(USERS_DELETED, handlers.on_user_deleted)
            await consumer.start()
            app.state.image_index = index
            app.state.token_verifier = TokenVerifier(settings.auth, http)
            app.state.readiness = {
                "opensearch": index.ping,
                "kafka": publisher.ping,
                "consumer": consumer.check_running,
            }
            if settings.reindex_on_empty_index:
                app.state.readiness["index-rebuild"] = rebuild.check
            yield
        finally:
            await rebuild.stop()
            await consumer.stop()
            await publisher.stop()
            await http.aclose()
            await client.close()

    return create_service_app(settings, title="Pixtract search", lifespan=lifespan, routers=[search_router])
