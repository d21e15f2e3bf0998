"""`python -m pixtract.tagging reprocess [--dry-run]`: re-emit work for images whose stored
result comes from another model version than the current one.

Tagging does not own image records, so it re-emits from its own copy of the last
ImageUploaded it handled for each image, with `attempt` bumped. OCR and search consume
images.uploaded too and redo their (idempotent) parts; every result is upserted by image
id, and the newest tagging result wins downstream.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from pixtract.common.clients import mongo_client
from pixtract.common.dependencies import run_command
from pixtract.common.kafka import EventPublisher
from pixtract.events.topics import IMAGES_UPLOADED
from pixtract.events.v1 import images_pb2
from pixtract.tagging.adapters.mongo_categories import MongoCategoryStore
from pixtract.tagging.config import Settings
from pixtract.tagging.consumers.results import Publisher
from pixtract.tagging.domain.results import TaggingStore
from pixtract.tagging.pipeline import current_model_version


@dataclass(frozen=True)
class ReprocessReport:
    model_version: str
    outdated: int
    emitted: int


async def reemit_outdated(
    store: TaggingStore, publisher: Publisher | None, model_version: str, *, dry_run: bool = False
) -> ReprocessReport:
    """Publish an ImageUploaded for each image tagged by another version (none with dry_run)."""
    outdated = emitted = 0
    async for image in store.outdated(model_version):
        outdated += 1
        if dry_run or publisher is None or not image.upload:
            continue
        uploaded = images_pb2.ImageUploaded.FromString(image.upload)
        uploaded.attempt = max(uploaded.attempt, 1) + 1
        await publisher.publish(IMAGES_UPLOADED, uploaded, key=uploaded.image_id)
        emitted += 1
    return ReprocessReport(model_version, outdated, emitted)


async def reprocess(settings: Settings, *, dry_run: bool) -> ReprocessReport:
    model_version = current_model_version(settings)
    mongo = mongo_client(settings.mongo)
    publisher = None if dry_run else EventPublisher(settings.kafka, client_id="tagging-reprocess")
    try:
        store = MongoCategoryStore(mongo[settings.mongo.database])
        if publisher is not None:
            await publisher.start()
        return await reemit_outdated(store, publisher, model_version, dry_run=dry_run)
    finally:
        if publisher is not None:
            await publisher.stop()
        await mongo.close()


def main(argv: list[str] | None = None) -> None:
    description = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(prog="python -m pixtract.tagging reprocess", description=description)
    parser.add_argument("--dry-run", action="store_true", help="count the outdated images, emit nothing")
    args = parser.parse_args(argv)
    report = run_command("reprocess", reprocess(Settings(), dry_run=args.dry_run))
    verb = "would re-emit" if args.dry_run else "re-emitted"
    count = report.outdated if args.dry_run else report.emitted
    print(f"current model version {report.model_version}: {report.outdated} outdated, {verb} {count}")
