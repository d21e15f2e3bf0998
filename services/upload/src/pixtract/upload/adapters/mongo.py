"""Image records in MongoDB (db `media`, collection `images`).

Every read a user can cause is filtered by owner and `deleted: false`. Pipeline facts are
written with `$set`/`$addToSet` only, so a repeated event changes nothing; the derived
`state` is written back guarded by `revision`, so a slower writer holding an older view can
never overwrite a newer state.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, PyMongoError

from pixtract.common.logging import get_logger
from pixtract.upload.domain.cursor import PageCursor
from pixtract.upload.domain.outbox import OutboxEntry
from pixtract.upload.domain.pipeline import Failure, ImageState, IndexedPart, Stage, StageStatus
from pixtract.upload.domain.records import (
    ImageDocument,
    computed_pipeline_status,
    now_millis,
    stored_pipeline_status,
)

log = get_logger(__name__)

MongoDocument = dict[str, Any]

# What a listing shows: the summary, never the results or the outbox.
SUMMARY_FIELDS = ("filename", "content_type", "size", "sha256", "state", "uploaded_at")
NEWEST_FIRST = [("uploaded_at", DESCENDING), ("_id", DESCENDING)]
# The export leaves out what no index needs: the outbox, thumbnails and OCR line boxes.
EXPORT_PROJECTION = {"outbox": False, "thumbnails": False, "text.lines": False}


class DuplicateImage(Exception):
    """This owner already has a live image with these bytes (unique index on owner + sha256)."""


class PlaceholderGone(Exception):
    """The placeholder of a store was purged before the store finished (it took longer than
    its grace): the store has failed and its objects may be gone."""


class MongoImageRepository:
    def __init__(self, collection: AsyncCollection[MongoDocument]) -> None:
        self._images = collection

    async def ensure_indexes(self) -> None:
        await self._images.create_index(
            [("owner_id", ASCENDING), ("sha256", ASCENDING)],
            name="live_owner_sha256",
            unique=True,
            partialFilterExpression={"deleted": False},
        )
        await self._images.create_index(
            [("owner_id", ASCENDING), ("deleted", ASCENDING), *NEWEST_FIRST], name="owner_newest_first"
        )
        await self._images.create_index([("outbox.event_id", ASCENDING)], name="outbox_pending", sparse=True)
        await self._images.create_index([("state", ASCENDING), ("emitted_at", ASCENDING)], name="state_emitted_at")
        await self._images.create_index(
            [("deleted_at", ASCENDING)], name="deleted_purge", partialFilterExpression={"deleted": True}
        )

    async def ping(self) -> None:
        await self._images.database.command("ping")

    # ----- upload and reads -------------------------------------------------------------

    async def insert(self, document: ImageDocument) -> None:
        """The image's record (with its outbox) in place of its placeholder (`claim_keys`)."""
        try:
            replaced = await self._images.replace_one(
                # Still protected: a placeholder the purge may already be removing is not taken.
                {"_id": document["_id"], "deleted": True, "purge_after": {"$gt": now_millis()}},
                cast(MongoDocument, document),
            )
        except DuplicateKeyError as exc:
            raise DuplicateImage(document["sha256"]) from exc
        if replaced.matched_count != 1:
            raise PlaceholderGone(document["_id"])

    async def claim_keys(self, owner_id: str, image_id: str, keys: list[str], *, grace: timedelta) -> None:
        """Before any object of a new image is written: a placeholder naming its keys, a
        deleted record with no events that the purge removes (objects first) once `grace`
        has passed. Storing the image replaces it (`insert`); a store that died half-way
        (a killed process, S3 down during the clean-up) leaves it, and nothing stays behind."""
        original, *thumbnails = keys
        await self._images.insert_one(
            {
                "_id": image_id,
                "owner_id": owner_id,
                "deleted": True,
                "deleted_at": now_millis(),
                "purge_after": now_millis() + grace,
                "original": {"key": original},
                "thumbnails": {str(n): {"key": key} for n, key in enumerate(thumbnails)},
                "outbox": [],
            }
        )

    async def release_keys(self, image_id: str) -> None:
        """The placeholder of a store whose objects were removed again (quiet: the purge
        removes it later otherwise)."""
        try:
            await self._images.delete_one({"_id": image_id, "deleted": True, "purge_after": {"$exists": True}})
        except PyMongoError:
            log.warning("placeholder of a failed upload left for the purge", image_id=image_id, exc_info=True)

    async def find_live_by_sha256(self, owner_id: str, sha256: str) -> ImageDocument | None:
        found = await self._images.find_one(
            {"owner_id": owner_id, "sha256": sha256, "deleted": False}, {"outbox": False}
        )
        return cast(ImageDocument | None, found)

    async def live_ids_by_sha256(self, owner_id: str, sha256s: list[str]) -> dict[str, str]:
        """The ids of the owner's live images among these hashes, keyed by hash."""
        found = self._images.find(
            {"owner_id": owner_id, "deleted": False, "sha256": {"$in": sha256s}}, {"sha256": True}
        )
        return {str(document["sha256"]): str(document["_id"]) async for document in found}

    async def get_live(self, owner_id: str, image_id: str) -> ImageDocument | None:
        found = await self._images.find_one(
            {"_id": image_id, "owner_id": owner_id, "deleted": False}, {"outbox": False}
        )
        return cast(ImageDocument | None, found)

    async def list_live(
        self,
        owner_id: str,
        *,
        limit: int,
        after: PageCursor | None = None,
        category: str | None = None,
        label: str | None = None,
    ) -> list[ImageDocument]:
        query: MongoDocument = {"owner_id": owner_id, "deleted": False}
        if category is not None:
            query["categories"] = category
        if label is not None:
            query["labels.name"] = label
        if after is not None:
            query["$or"] = [
                {"uploaded_at": {"$lt": after.uploaded_at}},
                {"uploaded_at": after.uploaded_at, "_id": {"$lt": after.image_id}},
            ]
        found = self._images.find(query, dict.fromkeys(SUMMARY_FIELDS, True)).sort(NEWEST_FIRST).limit(limit)
        return [cast(ImageDocument, document) async for document in found]

    async def live_page(self, *, after_id: str | None, limit: int) -> list[ImageDocument]:
        """Live records of every owner in id order, from after `after_id`: the internal export's pages."""
        query: MongoDocument = {"deleted": False}
        if after_id is not None:
            query["_id"] = {"$gt": after_id}
        found = self._images.find(query, EXPORT_PROJECTION).sort("_id", ASCENDING).limit(limit)
        return [cast(ImageDocument, document) async for document in found]

    async def mark_deleted(
        self, owner_id: str, image_id: str, deleted_at: datetime, entry: OutboxEntry
    ) -> ImageDocument | None:
        """Hide the image and queue its ImageDeleted in one write; None if there is no such live image.

        The outbox is replaced, not appended to: an ImageUploaded still waiting there is
        better never published than published for an image already gone.
        """
        found = await self._images.find_one_and_update(
            {"_id": image_id, "owner_id": owner_id, "deleted": False},
            {"$set": {"deleted": True, "deleted_at": deleted_at, "outbox": [entry]}},
            projection={"owner_id": True, "original": True, "thumbnails": True},
            return_document=ReturnDocument.AFTER,
        )
        return cast(ImageDocument | None, found)

    async def delete_owner(self, owner_id: str) -> int:
        result = await self._images.delete_many({"owner_id": owner_id})
        return result.deleted_count

    # ----- pipeline facts ---------------------------------------------------------------

    async def record_result(
        self, owner_id: str, image_id: str, stage: Stage, fields: Mapping[str, Any], produced_at: datetime | None
    ) -> ImageDocument | None:
        """Store a stage's result and mark the stage done, unless a newer result is already stored."""
        query: MongoDocument = {"_id": image_id, "owner_id": owner_id, "deleted": False}
        update: MongoDocument = {**fields, f"stages.{stage.value}": StageStatus.DONE.value}
        if produced_at is not None:
            time_field = f"result_times.{stage.value}"
            query["$or"] = [{time_field: {"$exists": False}}, {time_field: {"$lte": produced_at}}]
            update[time_field] = produced_at
        return await self._update_facts(query, {"$set": update})

    async def fill_dimensions(self, image_id: str, width: int, height: int) -> None:
        await self._images.update_one(
            {"_id": image_id, "deleted": False, "width": None}, {"$set": {"width": width, "height": height}}
        )

    async def add_indexed_part(self, owner_id: str, image_id: str, part: IndexedPart) -> ImageDocument | None:
        return await self._update_facts(
            {"_id": image_id, "owner_id": owner_id, "deleted": False}, {"$addToSet": {"indexed": part.value}}
        )

    async def mark_failed(self, image_id: str, failure: Failure) -> ImageDocument | None:
        """Record that a stage failed; a result for that stage arriving later still clears it."""
        return await self._update_facts(
            {"_id": image_id, "deleted": False, f"stages.{failure.stage.value}": StageStatus.PENDING.value},
            {
                "$set": {
                    f"stages.{failure.stage.value}": StageStatus.FAILED.value,
                    "failure": {"stage": failure.stage.value, "reason": failure.reason},
                }
            },
        )

    async def _update_facts(self, query: MongoDocument, update: MongoDocument) -> ImageDocument | None:
        update = {**update, "$inc": {"revision": 1}}
        found = await self._images.find_one_and_update(
            query, update, projection={"outbox": False}, return_document=ReturnDocument.AFTER
        )
        if found is None:
            return None
        document = cast(ImageDocument, found)
        await self._write_back_state(document)
        return document

    async def _write_back_state(self, document: ImageDocument) -> None:
        computed = computed_pipeline_status(document)
        stale_failure = computed.state is not ImageState.FAILED and document.get("failure") is not None
        if computed == stored_pipeline_status(document) and not stale_failure:
            return
        changes: MongoDocument = {"state": computed.state.value, "stages.search": computed.stages[Stage.SEARCH].value}
        if stale_failure:
            changes["failure"] = None
        update: MongoDocument = {"$set": changes}
        # If the revision moved on, a later writer read our facts too and writes the state itself.
        result = await self._images.update_one({"_id": document["_id"], "revision": document["revision"]}, update)
        if result.modified_count:
            document["state"] = computed.state.value
            document.setdefault("stages", {})[Stage.SEARCH.value] = computed.stages[Stage.SEARCH].value

    # ----- outbox relay ---------------------------------------------------------------

    async def with_pending_outbox(self, limit: int) -> list[ImageDocument]:
        # Matches through the sparse index on outbox.event_id: records with an empty outbox are not in it.
        found = self._images.find({"outbox.event_id": {"$exists": True}}, {"outbox": True}).limit(limit)
        return [cast(ImageDocument, document) async for document in found]

    async def remove_outbox_entry(self, image_id: str, event_id: str) -> None:
        await self._images.update_one({"_id": image_id}, {"$pull": {"outbox": {"event_id": event_id}}})

    async def purgeable(self, limit: int) -> list[ImageDocument]:
        """Deleted records whose ImageDeleted was published, and placeholders of stores that
        never finished (`claim_keys`) once their grace is over: only objects and record remain."""
        found = self._images.find(
            {
                "deleted": True,
                "outbox.0": {"$exists": False},
                "$or": [{"purge_after": {"$exists": False}}, {"purge_after": {"$lt": now_millis()}}],
            },
            {"owner_id": True, "original": True, "thumbnails": True},
        ).limit(limit)
        return [cast(ImageDocument, document) async for document in found]

    async def purge(self, image_id: str) -> None:
        await self._images.delete_one(
            {
                "_id": image_id,
                "deleted": True,
                "outbox.0": {"$exists": False},
                "$or": [{"purge_after": {"$exists": False}}, {"purge_after": {"$lt": now_millis()}}],
            }
        )

    # ----- reconciler -------------------------------------------------------------------

    async def processing_emitted_before(self, before: datetime, limit: int) -> list[ImageDocument]:
        # An image whose ImageUploaded is still in its outbox is waiting for Kafka, not stuck.
        found = self._images.find(
            {
                "state": ImageState.PROCESSING.value,
                "deleted": False,
                "emitted_at": {"$lt": before},
                "outbox.0": {"$exists": False},
            },
            {"outbox": False, "labels": False, "colors": False, "text": False},
        ).limit(limit)
        return [cast(ImageDocument, document) async for document in found]

    async def append_reemission(
        self, image_id: str, *, previous_attempt: int, attempt: int, entry: OutboxEntry, emitted_at: datetime
    ) -> bool:
        """Queue ImageUploaded again; False if another replica already did (attempt moved on)."""
        result = await self._images.update_one(
            {"_id": image_id, "deleted": False, "state": ImageState.PROCESSING.value, "attempt": previous_attempt},
            {"$set": {"attempt": attempt, "emitted_at": emitted_at}, "$push": {"outbox": entry}},
        )
        return result.modified_count == 1
