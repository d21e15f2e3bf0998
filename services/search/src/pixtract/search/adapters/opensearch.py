"""The image index in OpenSearch: created at start, written by partial upserts, searched per owner."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

from pixtract.common.logging import get_logger
from pixtract.search.domain.documents import PartialDocument, deleted_owner_marker_id
from pixtract.search.domain.mapping import MAPPING_VERSION, index_body, index_name, next_index_name, rebuild_alias
from pixtract.search.domain.query_string import QueryError
from pixtract.search.domain.search import OwnerScopedSearch

# Overloaded, or our credentials are refused: either way, nothing the request itself can fix.
UNAVAILABLE_STATUSES = frozenset({401, 403, 429})
MAX_REASON_CHARS = 300
# Writes are visible to searches before we say "indexed": the upload service marks the image
# ready on that event, and a client searching right after must find it.
WRITE_REFRESH = "wait_for"

log = get_logger(__name__)


class IndexUnavailable(Exception):
    """OpenSearch cannot be reached or is overloaded: the same request may work later."""


class DocumentRejected(Exception):
    """OpenSearch refused the document: sending it again will not help."""


def error_reason(exc: TransportError) -> str:
    """The most telling `reason` in an OpenSearch error: the parser's own words when there are some."""
    reasons: list[str] = []
    node: Any = exc.info.get("error") if isinstance(exc.info, Mapping) else None
    while isinstance(node, Mapping):
        if isinstance(node.get("reason"), str):
            reasons.append(node["reason"])
        node = node.get("caused_by")
    parser = [r for r in reasons if r.startswith("Cannot parse")]
    reason = (parser or reasons or [str(exc.error)])[-1]
    return reason[:MAX_REASON_CHARS]


@contextmanager
def _unavailable_when_down() -> Iterator[None]:
    try:
        yield
    except OpenSearchConnectionError as exc:
        raise IndexUnavailable(f"OpenSearch unreachable: {exc.error}") from exc
    except TransportError as exc:
        if isinstance(exc.status_code, int) and (exc.status_code in UNAVAILABLE_STATUSES or exc.status_code >= 500):
            raise IndexUnavailable(f"OpenSearch answered {exc.status_code}: {error_reason(exc)}") from exc
        raise


class ImageIndex:
    """The alias the service reads and writes; while a rebuild runs, its index gets every write too."""

    def __init__(
        self,
        client: AsyncOpenSearch,
        alias: str,
        *,
        shards: int = 1,
        replicas: int = 1,
        on_created: Callable[[], None] | None = None,
    ) -> None:
        self._client = client
        self.alias = alias
        self.rebuild_alias = rebuild_alias(alias)
        self._shards = shards
        self._replicas = replicas
        # Told when this index had to be created from nothing (first start, or OpenSearch lost it).
        self._on_created = on_created

    async def ping(self) -> None:
        if not await self._client.ping():
            raise IndexUnavailable("OpenSearch does not answer")

    async def ensure_index(self) -> None:
        """Create the versioned index behind the alias unless it exists; safe when replicas race."""
        with _unavailable_when_down():
            if await self._client.indices.exists_alias(name=self.alias):
                return
            name = index_name(self.alias)
            body = index_body(self.alias, shards=self._shards, replicas=self._replicas)
            try:
                await self._client.indices.create(index=name, body=body)
                log.info("created search index", index=name, alias=self.alias)
            except RequestError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise
                # Another replica created it first; its request may not have added the alias yet.
                await self._client.indices.put_alias(index=name, name=self.alias)
                return
        if self._on_created is not None:
            self._on_created()

    async def upsert(self, doc: PartialDocument) -> None:
        """Merge `doc` into the image's document (created if missing), searchable when this returns."""
        # The rebuild's index first: a write racing the alias swap then reaches the new index
        # either way (before the swap through the rebuild alias, after it through the alias).
        await self._update_rebuild(doc)
        try:
            await self._update(self.alias, doc, refresh=WRITE_REFRESH)
        except NotFoundError:
            # The index vanished (an in-memory OpenSearch restarted): recreate it, then write.
            log.warning("search index missing; creating it again", alias=self.alias)
            await self.ensure_index()
            await self._update(self.alias, doc, refresh=WRITE_REFRESH)

    async def _update_rebuild(self, doc: PartialDocument) -> None:
        try:
            # Not refreshed: nobody searches it before the rebuild refreshes it and swaps.
            await self._update(self.rebuild_alias, doc, refresh=False)
        except NotFoundError:
            pass  # no rebuild runs: the alias does not exist, and require_alias creates nothing
        except DocumentRejected as exc:
            # A new mapping refusing what the live one takes must not stop live indexing.
            log.warning("the index being rebuilt refused a document", image_id=doc["image_id"], reason=str(exc))

    async def _update(self, target: str, doc: PartialDocument, *, refresh: str | bool) -> None:
        with _unavailable_when_down():
            try:
                await self._client.update(
                    index=target,
                    id=doc["image_id"],
                    routing=doc["owner_id"],
                    body={"doc": doc, "doc_as_upsert": True},
                    refresh=refresh,
                    retry_on_conflict=5,
                    # Never let a write auto-create a concrete index named like the alias.
                    require_alias=True,
                )
            except RequestError as exc:
                raise DocumentRejected(error_reason(exc)) from exc

    async def delete_owner(self, owner_id: str) -> int:
        """Remove every document of the owner, tombstones included; the number removed."""
        with contextlib.suppress(NotFoundError):
            await self._delete_owner(self.rebuild_alias, owner_id)
        return await self._delete_owner(self.alias, owner_id)

    async def owner_deleted(self, owner_id: str) -> bool:
        """Whether the owner's deleted-user marker exists (see `deleted_owner_marker`)."""
        with _unavailable_when_down():
            try:
                marker_id = deleted_owner_marker_id(owner_id)
                found = await self._client.exists(index=self.alias, id=marker_id, routing=marker_id)
            except NotFoundError:
                return False
        return bool(found)

    async def _delete_owner(self, target: str, owner_id: str) -> int:
        with _unavailable_when_down():
            response = await self._client.delete_by_query(
                index=target,
                routing=owner_id,
                body={"query": {"term": {"owner_id": owner_id}}},
                conflicts="proceed",
                refresh=True,
            )
        return int(response.get("deleted", 0))

    async def search(self, request: OwnerScopedSearch) -> dict[str, Any]:
        """Run a scoped search; QueryError when OpenSearch cannot parse it (the caller's mistake, a 400)."""
        try:
            return await self._search(request)
        except NotFoundError:
            log.warning("search index missing; creating it again", alias=self.alias)
            await self.ensure_index()
            return await self._search(request)

    async def _search(self, request: OwnerScopedSearch) -> dict[str, Any]:
        with _unavailable_when_down():
            try:
                response: dict[str, Any] = await self._client.search(
                    index=self.alias, body=request.body(), routing=request.routing
                )
            except RequestError as exc:
                raise QueryError(f"The query could not be understood: {error_reason(exc)}") from exc
        return response


class RebuildInProgress(Exception):
    """Another rebuild's index exists (running now, or left by one that crashed)."""


@dataclass(frozen=True)
class BulkOutcome:
    written: int
    # (image id, reason) of each document OpenSearch refused.
    rejected: list[tuple[str, str]] = field(default_factory=list)


class IndexMaintenance:
    """What a rebuild does to the indexes behind the alias: create, fill, swap, drop."""

    def __init__(self, client: AsyncOpenSearch, alias: str, *, shards: int = 1, replicas: int = 1) -> None:
        self._client = client
        self.alias = alias
        self.rebuild_alias = rebuild_alias(alias)
        self._shards = shards
        self._replicas = replicas

    async def _indexes_behind(self, alias: str) -> list[str]:
        with _unavailable_when_down():
            try:
                found = await self._client.indices.get_alias(name=alias)
            except NotFoundError:
                return []
        return sorted(found)

    async def live_indexes(self) -> list[str]:
        return await self._indexes_behind(self.alias)

    async def unfinished_rebuild(self) -> str | None:
        """The index a rebuild is filling (or left behind when it crashed), if any."""
        found = await self._indexes_behind(self.rebuild_alias)
        return found[0] if found else None

    async def count(self) -> int:
        """Documents behind the alias, tombstones included; 0 when there is no index."""
        with _unavailable_when_down():
            try:
                response = await self._client.count(index=self.alias)
            except NotFoundError:
                return 0
        return int(response.get("count", 0))

    async def mapping_version(self) -> int | None:
        """The mapping version the live index was built with (None before versions were recorded)."""
        versions: list[int] = []
        for index in await self.live_indexes():
            with _unavailable_when_down():
                mapping = await self._client.indices.get_mapping(index=index)
            meta = (mapping.get(index, {}).get("mappings") or {}).get("_meta") or {}
            if isinstance(meta.get("mapping_version"), int):
                versions.append(meta["mapping_version"])
        return min(versions) if versions else None

    async def start_rebuild(self) -> str:
        """Create the next generation's index, named by the rebuild alias so every write reaches it too."""
        if (unfinished := await self.unfinished_rebuild()) is not None:
            raise RebuildInProgress(f"{unfinished} is being rebuilt (or a crashed rebuild left it)")
        with _unavailable_when_down():
            existing = await self._client.indices.get_alias(index=f"{self.alias}-v*")
            name = next_index_name(self.alias, existing)
            body = index_body(self.rebuild_alias, shards=self._shards, replicas=self._replicas)
            try:
                await self._client.indices.create(index=name, body=body)
            except RequestError as exc:
                if exc.error == "resource_already_exists_exception":
                    raise RebuildInProgress(f"{name} was just created by another rebuild") from exc
                raise
        log.info("rebuilding the search index", index=name, alias=self.alias, mapping_version=MAPPING_VERSION)
        return name

    async def write(self, index: str, docs: Iterable[PartialDocument]) -> BulkOutcome:
        """Partial upserts in one bulk request: merged into whatever the consumers wrote meanwhile."""
        body: list[dict[str, Any]] = []
        for doc in docs:
            action = {"_index": index, "_id": doc["image_id"], "routing": doc["owner_id"], "retry_on_conflict": 5}
            body += [{"update": action}, {"doc": doc, "doc_as_upsert": True}]
        if not body:
            return BulkOutcome(0)
        with _unavailable_when_down():
            response = await self._client.bulk(body=body)
        written, rejected, unavailable = 0, [], []
        for item in response.get("items", []):
            result: dict[str, Any] = next(iter(item.values()), {})
            status = int(result.get("status", 500))
            if status < 300:
                written += 1
            elif status in UNAVAILABLE_STATUSES or status >= 500:
                unavailable.append(status)
            else:
                error = result.get("error") or {}
                reason = error.get("reason", "refused") if isinstance(error, Mapping) else str(error)
                rejected.append((str(result.get("_id", "")), str(reason)[:MAX_REASON_CHARS]))
        if unavailable:
            raise IndexUnavailable(f"OpenSearch refused {len(unavailable)} bulk writes with {sorted(set(unavailable))}")
        return BulkOutcome(written, rejected)

    async def tombstones(self, indexes: list[str], *, page_size: int = 1000) -> AsyncIterator[list[dict[str, Any]]]:
        """The tombstones in `indexes`, a page at a time (ids, owner, deletion time)."""
        if not indexes:
            return
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": page_size,
                "query": {"term": {"deleted": True}},
                "sort": [{"image_id": {"order": "asc"}}],
                "_source": ["image_id", "owner_id", "deleted_at"],
            }
            if after is not None:
                body["search_after"] = after
            with _unavailable_when_down():
                response = await self._client.search(index=",".join(indexes), body=body, ignore_unavailable=True)
            hits = response.get("hits", {}).get("hits", [])
            if not hits:
                return
            yield [hit.get("_source") or {} for hit in hits]
            after = hits[-1].get("sort")
            if len(hits) < page_size or not after:
                return

    async def refresh(self, index: str) -> None:
        with _unavailable_when_down():
            await self._client.indices.refresh(index=index)

    async def swap(self, new_index: str) -> list[str]:
        """Move the alias to `new_index` and end the rebuild, in one atomic request; the indexes it left."""
        old = [index for index in await self.live_indexes() if index != new_index]
        actions: list[dict[str, Any]] = [{"remove": {"index": index, "alias": self.alias}} for index in old]
        actions += [
            {"add": {"index": new_index, "alias": self.alias}},
            {"remove": {"index": new_index, "alias": self.rebuild_alias}},
        ]
        with _unavailable_when_down():
            await self._client.indices.update_aliases(body={"actions": actions})
        log.info("search alias moved", alias=self.alias, index=new_index, previous=old)
        return old

    async def drop(self, indexes: Iterable[str]) -> None:
        for index in indexes:
            with _unavailable_when_down(), contextlib.suppress(NotFoundError):
                await self._client.indices.delete(index=index)
