"""The tagging service: a Kafka worker that tags every upload, and the categories API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from pixtract.common.auth import TokenVerifier
from pixtract.common.clients import mongo_client, ping_mongo, s3_client
from pixtract.common.errors import problem_response
from pixtract.common.http import create_service_app
from pixtract.common.kafka import EventConsumer, EventPublisher
from pixtract.common.storage import ObjectStore
from pixtract.events.topics import IMAGES_DELETED, IMAGES_TEXT_EXTRACTED, IMAGES_UPLOADED, USERS_DELETED
from pixtract.tagging.adapters.mongo_categories import MongoCategoryStore
from pixtract.tagging.api.categories import router as categories_router
from pixtract.tagging.config import Settings
from pixtract.tagging.consumers.deleted import ImageDeletedHandler, UserDeletedHandler
from pixtract.tagging.consumers.results import ResultAnnouncer
from pixtract.tagging.consumers.text import TextExtractedHandler
from pixtract.tagging.consumers.uploaded import TaggingHandler
from pixtract.tagging.domain.categories import StoreUnavailable
from pixtract.tagging.pipeline import current_model_version, tagging_tools

SERVICE = "tagging"


async def _store_unavailable(_: Request, __: Exception) -> JSONResponse:
    detail = "The category store is unavailable; try again shortly."
    return problem_response(503, detail, slug="store-unavailable", headers={"Retry-After": "5"})


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix=SERVICE)
            stack.callback(executor.shutdown, wait=True)
            # First: a model file that fails its sha256 check stops the start here.
            tools = await stack.enter_async_context(tagging_tools(settings, executor))
            model_version = current_model_version(settings)
            http = await stack.enter_async_context(httpx.AsyncClient())
            app.state.token_verifier = TokenVerifier(settings.auth, http)

            mongo = mongo_client(settings.mongo)
            stack.push_async_callback(mongo.close)
            store = MongoCategoryStore(mongo[settings.mongo.database])
            await store.create_indexes()
            app.state.category_store = store
            app.state.model_version = model_version

            s3 = await stack.enter_async_context(s3_client(settings.s3))
            objects = ObjectStore(s3, settings.s3.bucket)

            publisher = EventPublisher(settings.kafka, client_id=SERVICE)
            await publisher.start()
            stack.push_async_callback(publisher.stop)
            consumer = EventConsumer(settings.kafka, group_id=SERVICE, publisher=publisher)
            announcer = ResultAnnouncer(store, publisher, tools.rules)
            consumer.on(
                IMAGES_UPLOADED,
                TaggingHandler(
                    read_object=objects.get_bytes_or_none,
                    store=store,
                    publisher=publisher,
                    executor=executor,
                    max_pixels=settings.max_pixels,
                    model_version=model_version,
                    tools=tools,
                ),
            )
            consumer.on(IMAGES_TEXT_EXTRACTED, TextExtractedHandler(store, announcer))
            consumer.on(IMAGES_DELETED, ImageDeletedHandler(store, announcer))
            consumer.on(USERS_DELETED, UserDeletedHandler(store))
            await consumer.start()
            # Stopped first (callbacks run in reverse): it drains while its clients still work.
            stack.push_async_callback(consumer.stop)

            app.state.readiness = {
                "mongo": lambda: ping_mongo(mongo),
                "s3": objects.ping,
                "kafka": publisher.ping,
                "consumer": consumer.check_running,
            }
            yield

    app = create_service_app(settings, title="Pixtract tagging", lifespan=lifespan, routers=[categories_router])
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    return app
