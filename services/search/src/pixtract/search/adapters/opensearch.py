"""The image index in OpenSearch: created at start, written by partial upserts, searched per owner."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

from pixtract.common.logging import get_logger
from pixtract.search.domain.documents import PartialDocument
from pixtract.search.domain.mapping import index_body, index_name
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
    def __init__(self, client: AsyncOpenSearch, alias: str, *, shards: int = 1, replicas: int = 1) -> None:
        self._client = client
        self.alias = alias
        self._shards = shards
        self._replicas = replicas

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

    async def upsert(self, doc: PartialDocument) -> None:
        """Merge `doc` into the image's document (created if missing), searchable when this returns."""
        try:
            await self._update(doc)
        except NotFoundError:
            # The index vanished (an in-memory OpenSearch restarted): recreate it, then write.
            log.warning("search index missing; creating it again", alias=self.alias)
            await self.ensure_index()
            await self._update(doc)

    async def _update(self, doc: PartialDocument) -> None:
        with _unavailable_when_down():
            try:
                await self._client.update(
                    index=self.alias,
                    id=doc["image_id"],
                    routing=doc["owner_id"],
                    body={"doc": doc, "doc_as_upsert": True},
                    refresh=WRITE_REFRESH,
                    retry_on_conflict=5,
                    # Never let a write auto-create a concrete index named like the alias.
                    require_alias=True,
                )
            except RequestError as exc:
                raise DocumentRejected(error_reason(exc)) from exc

    async def delete_owner(self, owner_id: str) -> int:
        """Remove every document of the owner, tombstones included; the number removed."""
        with _unavailable_when_down():
            response = await self._client.delete_by_query(
                index=self.alias,
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
