"""Rebuilding the index from the upload service's records, with no downtime.

A new index (`<alias>-v<N+1>`, current mapping) is created under the rebuild alias, so every
consumer write reaches it as well as the live index from then on; it is filled from the
upload export, the old index's tombstones are carried over, and one `_aliases` request
moves the alias to it. Searches keep using the old index until that moment.
See docs/design.md, "Reindex", for why nothing written meanwhile is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from opensearchpy import AsyncOpenSearch

from pixtract.common.logging import get_logger
from pixtract.search.adapters.opensearch import IndexMaintenance, RebuildInProgress
from pixtract.search.adapters.upload import UploadExport
from pixtract.search.config import Settings
from pixtract.search.domain.documents import PartialDocument
from pixtract.search.domain.rebuild import UnusableExportItem, carried_tombstone, exported_document

RETRY_FIRST_S = 1.0
RETRY_MAX_S = 30.0

log = get_logger(__name__)


class RecordSource(Protocol):
    def pages(self) -> AsyncIterator[list[dict[str, Any]]]: ...


@dataclass
class RebuildReport:
    index: str
    replaced: list[str] = field(default_factory=list)
    documents: int = 0
    tombstones: int = 0
    skipped: int = 0
    seconds: float = 0.0


Item = dict[str, Any]


def _documents(items: list[Item], build: Callable[[Item], PartialDocument]) -> list[PartialDocument]:
    docs: list[PartialDocument] = []
    for item in items:
        try:
            docs.append(build(item))
        except UnusableExportItem as exc:
            log.warning("record left out of the rebuilt index", image_id=item.get("image_id"), reason=str(exc))
    return docs


async def _fill(maintenance: IndexMaintenance, index: str, docs: list[PartialDocument]) -> tuple[int, int]:
    outcome = await maintenance.write(index, docs)
    for image_id, reason in outcome.rejected:
        log.warning("OpenSearch refused a rebuilt document", image_id=image_id, reason=reason)
    return outcome.written, len(outcome.rejected)


async def rebuild_index(maintenance: IndexMaintenance, source: RecordSource, *, grace_seconds: float) -> RebuildReport:
    """Build a new index from `source`, swap the alias to it, drop the old one."""
    started = time.monotonic()
    report = RebuildReport(await maintenance.start_rebuild())
    try:
        # A consumer that looked for the rebuild alias just before it existed wrote to the old
        # index only; the upload service stores the same event's result, and this pause lets
        # it do so before the export is read.
        await asyncio.sleep(grace_seconds)
        async for items in source.pages():
            docs = _documents(items, exported_document)
            written, refused = await _fill(maintenance, report.index, docs)
            report.documents += written
            report.skipped += len(items) - len(docs) + refused
        # Deletions the export cannot show: images deleted while their page was in flight, and
        # old tombstones that keep late events from bringing deleted images back.
        async for sources in maintenance.tombstones(await maintenance.live_indexes()):
            written, _ = await _fill(maintenance, report.index, _documents(sources, carried_tombstone))
            report.tombstones += written
        await maintenance.refresh(report.index)
        report.replaced = await maintenance.swap(report.index)
    except BaseException:
        log.warning("rebuild abandoned; its index is dropped", index=report.index)
        await maintenance.drop([report.index])
        raise
    await maintenance.drop(report.replaced)
    report.seconds = round(time.monotonic() - started, 3)
    log.info("search index rebuilt", **vars(report))
    return report


def maintenance_for(client: AsyncOpenSearch, settings: Settings) -> IndexMaintenance:
    return IndexMaintenance(
        client, settings.opensearch.index_alias, shards=settings.index_shards, replicas=settings.index_replicas
    )


async def rebuild_from_upload(
    client: AsyncOpenSearch, http: httpx.AsyncClient, settings: Settings, *, discard_unfinished: bool = False
) -> RebuildReport:
    """The whole rebuild as configured: the upload export as source, the configured alias as target."""
    if settings.internal_token is None:
        raise ValueError("PIXTRACT_SEARCH_INTERNAL_TOKEN is not set: the upload export cannot be read without it")
    maintenance = maintenance_for(client, settings)
    if discard_unfinished and (unfinished := await maintenance.unfinished_rebuild()) is not None:
        log.warning("dropping an unfinished rebuild's index", index=unfinished)
        await maintenance.drop([unfinished])
    source = UploadExport(http, settings.upload_url, settings.internal_token, page_size=settings.reindex_page_size)
    return await rebuild_index(maintenance, source, grace_seconds=settings.reindex_grace_seconds)


class IndexRebuilding(Exception):
    """Readiness: the index is being rebuilt from the upload service."""


class BackgroundRebuild:
    """Rebuilds the index in the background when it was found empty; retries until it succeeds.

    Readiness fails while it runs: an empty index would answer every search with nothing.
    """

    def __init__(self, rebuild: Callable[[], Awaitable[RebuildReport]]) -> None:
        self._rebuild = rebuild
        self._task: asyncio.Task[None] | None = None

    def request(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="search-index-rebuild")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def check(self) -> None:
        if self.running:
            raise IndexRebuilding("the index is being rebuilt from the upload service")

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            try:
                await self._rebuild()
                return
            except RebuildInProgress as exc:
                # Another replica (or the reindex command) is doing it.
                log.info("not rebuilding the index: another rebuild runs", reason=str(exc))
                return
            except Exception as exc:  # upload or OpenSearch not there yet: keep trying, readiness says why
                log.warning("index rebuild failed; retrying", error=repr(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
