"""The OCR service: a Kafka worker with health endpoints. It keeps no results, only a small
record of the images it has read (for `reprocess`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial

from fastapi import FastAPI

from pixtract.common.clients import mongo_client, ping_mongo, s3_client
from pixtract.common.http import create_service_app
from pixtract.common.kafka import EventConsumer, EventPublisher
from pixtract.common.storage import ObjectStore
from pixtract.events.topics import IMAGES_DELETED, IMAGES_UPLOADED, USERS_DELETED
from pixtract.ocr.adapters.mongo_handled import MongoHandledStore
from pixtract.ocr.config import Settings
from pixtract.ocr.consumers.deleted import ImageDeletedHandler, UserDeletedHandler
from pixtract.ocr.consumers.uploaded import OcrHandler
from pixtract.ocr.providers import text_reader


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            reader = await stack.enter_async_context(text_reader(settings))
            mongo = mongo_client(settings.mongo)
            stack.push_async_callback(mongo.close)
            handled = MongoHandledStore(mongo[settings.mongo.database])
            await handled.create_indexes()
            s3 = await stack.enter_async_context(s3_client(settings.s3))
            store = ObjectStore(s3, settings.s3.bucket)
            publisher = EventPublisher(settings.kafka, client_id="ocr")
            await publisher.start()
            stack.push_async_callback(publisher.stop)
            consumer = EventConsumer(settings.kafka, group_id="ocr", publisher=publisher)
            consumer.on(IMAGES_UPLOADED, OcrHandler(reader, store.get_bytes_or_none, publisher, handled))
            consumer.on(IMAGES_DELETED, ImageDeletedHandler(handled))
            consumer.on(USERS_DELETED, UserDeletedHandler(handled))
            await consumer.start()
            stack.push_async_callback(consumer.stop)
            app.state.readiness = {
                "kafka": publisher.ping,
                "s3": store.ping,
                "mongo": partial(ping_mongo, mongo),
                "consumer": consumer.check_running,
            }
            yield

    return create_service_app(settings, title="Pixtract OCR", lifespan=lifespan)
