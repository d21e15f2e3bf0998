"""The OCR service: a Kafka worker with health endpoints; it owns no data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI

from pixtract.common.clients import s3_client
from pixtract.common.http import create_service_app
from pixtract.common.kafka import EventConsumer, EventPublisher
from pixtract.common.storage import ObjectStore
from pixtract.events.topics import IMAGES_UPLOADED
from pixtract.ocr.adapters.rapid import RapidOcrEngine
from pixtract.ocr.config import Settings
from pixtract.ocr.consumers.uploaded import OcrHandler


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="ocr")
        # Loading the models takes about a second; done before joining the consumer group.
        engine = RapidOcrEngine()
        async with s3_client(settings.s3) as s3:
            store = ObjectStore(s3, settings.s3.bucket)
            publisher = EventPublisher(settings.kafka, client_id="ocr")
            await publisher.start()
            consumer = EventConsumer(settings.kafka, group_id="ocr", publisher=publisher)
            consumer.on(
                IMAGES_UPLOADED,
                OcrHandler(
                    engine, store.get_bytes_or_none, publisher, executor, settings.max_pixels, settings.max_side
                ),
            )
            await consumer.start()
            app.state.readiness = {"kafka": publisher.ping, "s3": store.ping, "consumer": consumer.check_running}
            try:
                yield
            finally:
                await consumer.stop()
                await publisher.stop()
                executor.shutdown(wait=True)

    return create_service_app(settings, title="Pixtract OCR", lifespan=lifespan)
