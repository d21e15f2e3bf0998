"""The upload service: originals and thumbnails in S3, image records and pipeline state in Mongo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import FastAPI

from pixtract.common.auth import TokenVerifier
from pixtract.common.clients import mongo_client, s3_client
from pixtract.common.http import create_service_app
from pixtract.common.kafka import EventConsumer, EventPublisher
from pixtract.common.logging import get_logger
from pixtract.common.storage import ObjectStore
from pixtract.events.topics import IMAGES_INDEXED, IMAGES_TAGGED, IMAGES_TEXT_EXTRACTED, USERS_DELETED
from pixtract.upload.adapters.backlog import KafkaBacklog
from pixtract.upload.adapters.mongo import MongoImageRepository
from pixtract.upload.adapters.s3 import MediaStore
from pixtract.upload.adapters.uploads import MongoUploadRepository
from pixtract.upload.api.images import router as images_router
from pixtract.upload.api.internal import router as internal_router
from pixtract.upload.api.known_hashes import router as known_hashes_router
from pixtract.upload.api.uploads import router as uploads_router
from pixtract.upload.config import Settings
from pixtract.upload.consumers.results import PipelineResultHandlers
from pixtract.upload.consumers.users import UserDeletedHandler
from pixtract.upload.ingest import ImageIngest
from pixtract.upload.resumable import ResumableLimits, ResumableUploads
from pixtract.upload.tasks.outbox_relay import OutboxRelay
from pixtract.upload.tasks.periodic import PeriodicTask
from pixtract.upload.tasks.reconciler import Reconciler

SERVICE = "upload"

log = get_logger(__name__)


def _resumable_limits(settings: Settings) -> ResumableLimits:
    return ResumableLimits(
        max_length=settings.max_file_bytes,
        segment_bytes=settings.resumable_segment_bytes,
        merge_below_bytes=settings.resumable_merge_below_bytes,
        expire_after=timedelta(seconds=settings.resumable_expire_seconds),
        lease=timedelta(seconds=settings.resumable_lease_seconds),
        spool_memory_bytes=settings.spool_memory_bytes,
        spool_dir=settings.spool_dir,
    )


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as running:
            # Closed in reverse: consumer, reconciler, relay, publisher, then the clients.
            executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="upload")
            running.callback(executor.shutdown, wait=True)
            mongo = mongo_client(settings.mongo)
            running.push_async_callback(mongo.close)
            http = httpx.AsyncClient()
            running.push_async_callback(http.aclose)
            s3 = await running.enter_async_context(s3_client(settings.s3))
            media = MediaStore(ObjectStore(s3, settings.s3.bucket))
            await media.ensure_bucket()
            images = MongoImageRepository(mongo[settings.mongo.database]["images"])
            await images.ensure_indexes()
            uploads = MongoUploadRepository(mongo[settings.mongo.database]["uploads"])
            await uploads.ensure_indexes()

            publisher = EventPublisher(settings.kafka, client_id=SERVICE)
            await publisher.start()
            running.push_async_callback(publisher.stop)
            outbox_relay = PeriodicTask(
                "outbox-relay", OutboxRelay(images, publisher, media).drain, settings.outbox_sweep_seconds
            )
            reconciler = PeriodicTask(
                "reconciler",
                Reconciler(
                    images,
                    backlog=KafkaBacklog(settings.kafka),
                    reemit_after=timedelta(seconds=settings.reemit_after_seconds),
                    max_attempts=settings.max_attempts,
                    on_reemitted=outbox_relay.wake,
                ).run_once,
                settings.reconcile_interval_seconds,
            )
            consumer = EventConsumer(settings.kafka, group_id=SERVICE, publisher=publisher)
            results = PipelineResultHandlers(images)
            consumer.on(IMAGES_TAGGED, results.on_tagged)
            consumer.on(IMAGES_TEXT_EXTRACTED, results.on_text_extracted)
            consumer.on(IMAGES_INDEXED, results.on_indexed)
            consumer.on(USERS_DELETED, UserDeletedHandler(images, media, uploads))

            app.state.images = images
            app.state.media = media
            app.state.outbox_relay = outbox_relay
            app.state.ingest = ImageIngest(
                images, media, executor, max_pixels=settings.max_pixels, on_stored=outbox_relay.wake
            )
            app.state.token_verifier = TokenVerifier(settings.auth, http)
            app.state.resumable = ResumableUploads(uploads, media, app.state.ingest, _resumable_limits(settings))
            resumable_sweeper = PeriodicTask(
                "resumable-sweeper", app.state.resumable.sweep, settings.resumable_sweep_seconds
            )

            outbox_relay.start()
            running.push_async_callback(outbox_relay.stop)
            reconciler.start()
            running.push_async_callback(reconciler.stop)
            resumable_sweeper.start()
            running.push_async_callback(resumable_sweeper.stop)
            await consumer.start()
            running.push_async_callback(consumer.stop)
            app.state.readiness = {
                "mongo": images.ping,
                "s3": media.ping,
                "kafka": publisher.ping,
                "consumer": consumer.check_running,
                "outbox-relay": outbox_relay.check_running,
            }
            yield

    return create_service_app(
        settings,
        title="Pixtract upload",
        lifespan=lifespan,
        routers=[images_router, known_hashes_router, internal_router, uploads_router],
    )
