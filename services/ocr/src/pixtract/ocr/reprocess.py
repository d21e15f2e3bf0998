"""`python -m pixtract.ocr reprocess`: read again every image a different pipeline read.

The service records each image it reads with the model version that read it (domain/
handled.py). This command asks that record for images whose version differs from the
current one (the RapidOCR version plus PIPELINE_VERSION, bumped whenever rows, types or
fields change), reads each again with the configured provider and publishes a fresh
`images.text_extracted`. Results are idempotent downstream: upload and search replace
the text by image id and keep the newer one. Images whose original is gone are forgotten.
Runs beside the service (or as a Kubernetes Job) with the same settings.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pixtract.common.clients import mongo_client, s3_client
from pixtract.common.dependencies import run_command
from pixtract.common.kafka import EventPublisher
from pixtract.common.logging import configure_logging, get_logger
from pixtract.common.storage import ObjectStore
from pixtract.ocr.adapters.mongo_handled import MongoHandledStore
from pixtract.ocr.config import Settings
from pixtract.ocr.consumers.uploaded import OcrHandler
from pixtract.ocr.domain.handled import HandledStore
from pixtract.ocr.providers import text_reader

log = get_logger(__name__)


@dataclass(frozen=True)
class ReprocessReport:
    stale: int
    published: int
    gone: int


async def reprocess_stale(
    handler: OcrHandler, handled: HandledStore, *, limit: int | None = None, dry_run: bool = False
) -> ReprocessReport:
    current = handler.reader.model_version
    stale = published = gone = 0
    # Collected first: processing rewrites the records the cursor walks.
    images = [image async for image in handled.older_than(current, limit=limit)]
    for image in images:
        stale += 1
        if dry_run:
            continue
        if await handler.process(replace(image, attempt=image.attempt + 1)):
            published += 1
        else:
            gone += 1
    return ReprocessReport(stale, published, gone)


async def run(settings: Settings, *, limit: int | None, dry_run: bool) -> ReprocessReport:
    mongo = mongo_client(settings.mongo)
    try:
        handled = MongoHandledStore(mongo[settings.mongo.database])
        async with text_reader(settings) as reader, s3_client(settings.s3) as s3:
            publisher = EventPublisher(settings.kafka, client_id="ocr-reprocess")
            try:
                await publisher.start()
                handler = OcrHandler(reader, ObjectStore(s3, settings.s3.bucket).get_bytes_or_none, publisher, handled)
                return await reprocess_stale(handler, handled, limit=limit, dry_run=dry_run)
            finally:
                await publisher.stop()
    finally:
        await mongo.close()


def main(argv: Sequence[str]) -> None:
    description = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(prog="python -m pixtract.ocr reprocess", description=description)
    parser.add_argument("--limit", type=int, default=None, help="at most this many images")
    parser.add_argument("--dry-run", action="store_true", help="count the stale images, read none")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be a positive number")
    settings = Settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    report = run_command("reprocess", run(settings, limit=args.limit, dry_run=args.dry_run))
    log.info("reprocess finished", stale=report.stale, published=report.published, gone=report.gone)
    print(f"stale {report.stale}, published {report.published}, originals gone {report.gone}")
