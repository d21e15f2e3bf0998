"""Rebuilding the index: export items to documents, index generations, the rebuild's steps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from pydantic import SecretStr, ValidationError

from pixtract.events.v1 import images_pb2
from pixtract.search.adapters.opensearch import BulkOutcome, IndexUnavailable, RebuildInProgress
from pixtract.search.adapters.upload import UploadExport, UploadUnavailable
from pixtract.search.config import Settings
from pixtract.search.domain.documents import (
    CONTENT_FIELDS,
    PartialDocument,
    tagged_document,
    text_document,
    uploaded_document,
)
from pixtract.search.domain.mapping import generation_of, index_body, next_index_name, rebuild_alias
from pixtract.search.domain.rebuild import UnusableExportItem, carried_tombstone, exported_document, merge_partial
from pixtract.search.reindex import BackgroundRebuild, IndexRebuilding, RebuildReport, rebuild_index

TOKEN = SecretStr("internal-token-for-tests-0123456789abcdef")


def _json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _uploaded() -> images_pb2.ImageUploaded:
    event = images_pb2.ImageUploaded(image_id="img-1", owner_id="alice", filename="beach_day.jpg", size=9)
    event.uploaded_at.FromDatetime(datetime(2024, 5, 2, 9, 0, tzinfo=UTC))
    event.gps.lat, event.gps.lon = 48.85, 2.35
    return event


def _tagged() -> images_pb2.ImageTagged:
    event = images_pb2.ImageTagged(image_id="img-1", owner_id="alice", model_version="tag@1", faces=1)
    event.labels.add(name="seashore", confidence=0.8, parents=["shore"])
    event.location.CopyFrom(images_pb2.Place(lat=48.85, lon=2.35, place="Paris", country="France"))
    return event


def _text() -> images_pb2.TextExtracted:
    event = images_pb2.TextExtracted(
        image_id="img-1", owner_id="alice", content="TOTAL 9.99", document_type="receipt", model_version="ocr@1"
    )
    event.fields["total"] = "9.99"
    return event


# ----- documents --------------------------------------------------------------------------


def test_an_export_item_becomes_what_the_consumers_would_have_written() -> None:
    item = {"uploaded": _json(_uploaded()), "tagged": _json(_tagged()), "text_extracted": _json(_text())}
    # The same parts, upserted one after the other as the consumers do.
    expected: PartialDocument = {}
    for part in (uploaded_document(_uploaded()), tagged_document(_tagged()), text_document(_text())):
        merge_partial(expected, part)
    doc = exported_document(item)
    assert doc == expected
    assert doc["location"] == {"point": {"lat": 48.85, "lon": 2.35}, "place": "Paris", "country": "France"}
    assert doc["model_versions"] == {"tagging": "tag@1", "ocr": "ocr@1"}
    assert doc["receipt"]["total"] == 9.99


def test_an_item_without_results_has_only_the_upload_part() -> None:
    doc = exported_document({"uploaded": _json(_uploaded()), "tagged": None, "text_extracted": None})
    assert doc == uploaded_document(_uploaded())
    assert "labels" not in doc
    assert "text" not in doc
    assert "deleted" not in doc


def test_fields_newer_than_this_service_are_ignored() -> None:
    uploaded = {**_json(_uploaded()), "a_field_from_the_future": 1}
    assert exported_document({"uploaded": uploaded})["filename"] == "beach_day.jpg"


@pytest.mark.parametrize(
    "item",
    [
        {},
        {"uploaded": "not an object"},
        {"uploaded": {"image_id": "img-1"}},  # no owner
        {"uploaded": {"image_id": "img-1", "owner_id": "alice", "size": "many"}},
        {"uploaded": {"image_id": "img-1", "owner_id": "alice"}, "tagged": {"faces": "some"}},
    ],
)
def test_an_unusable_item_is_refused(item: dict[str, Any]) -> None:
    with pytest.raises(UnusableExportItem):
        exported_document(item)


def test_a_carried_tombstone_blanks_the_content_and_keeps_the_deletion_time() -> None:
    doc = carried_tombstone({"image_id": "img-1", "owner_id": "alice", "deleted_at": "2024-05-03T10:00:00+00:00"})
    assert doc["deleted"] is True
    assert doc["deleted_at"] == "2024-05-03T10:00:00+00:00"
    assert all(doc[name] is None for name in CONTENT_FIELDS)
    with pytest.raises(UnusableExportItem):
        carried_tombstone({"owner_id": "alice"})


def test_a_merge_goes_into_objects_and_replaces_everything_else() -> None:
    doc: PartialDocument = {"location": {"point": {"lat": 1.0, "lon": 2.0}}, "labels": ["a"]}
    merge_partial(doc, {"location": {"place": "Paris"}, "labels": ["b"]})
    assert doc == {"location": {"point": {"lat": 1.0, "lon": 2.0}, "place": "Paris"}, "labels": ["b"]}


# ----- index names ------------------------------------------------------------------------


def test_each_rebuild_fills_the_next_generation() -> None:
    assert next_index_name("images", []) == "images-v1"
    assert next_index_name("images", ["images-v1"]) == "images-v2"
    assert next_index_name("images", ["images-v9", "images-v10", "images-rebuild", "images-it-v99"]) == "images-v11"
    assert generation_of("images", "images-v3") == 3
    assert generation_of("images", "images-it-v3") is None
    assert rebuild_alias("images") == "images-rebuild"


def test_the_mapping_version_is_recorded_in_the_index() -> None:
    assert index_body("images", shards=1, replicas=0)["mappings"]["_meta"] == {"mapping_version": 1}


# ----- the rebuild's steps ----------------------------------------------------------------


class FakeMaintenance:
    def __init__(self) -> None:
        self.steps: list[str] = []
        self.written: dict[str, list[PartialDocument]] = {}
        self.old_tombstones: list[dict[str, Any]] = []
        self.fail_at: str | None = None
        self.busy = False

    def _step(self, step: str) -> None:
        self.steps.append(step)
        if step == self.fail_at:
            raise IndexUnavailable(f"failed at {step}")

    async def start_rebuild(self) -> str:
        if self.busy:
            raise RebuildInProgress("images-v2 is being rebuilt")
        self._step("start")
        return "images-v2"

    async def write(self, index: str, docs: Iterable[PartialDocument]) -> BulkOutcome:
        docs = list(docs)
        self._step("write")
        self.written.setdefault(index, []).extend(docs)
        rejected = [(d["image_id"], "mapper_parsing_exception") for d in docs if d.get("filename") == "refused.jpg"]
        return BulkOutcome(len(docs) - len(rejected), rejected)

    async def live_indexes(self) -> list[str]:
        return ["images-v1"]

    async def tombstones(self, indexes: list[str]) -> AsyncIterator[list[dict[str, Any]]]:
        self._step("tombstones")
        if self.old_tombstones:
            yield self.old_tombstones

    async def refresh(self, index: str) -> None:
        self._step("refresh")

    async def swap(self, new_index: str) -> list[str]:
        self._step("swap")
        return ["images-v1"]

    async def drop(self, indexes: Iterable[str]) -> None:
        self._step("drop " + ",".join(indexes))


class ListSource:
    def __init__(self, *pages: list[dict[str, Any]]) -> None:
        self._pages = pages

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        for page in self._pages:
            yield page


def _item(image_id: str, filename: str = "a.jpg") -> dict[str, Any]:
    return {"uploaded": {"image_id": image_id, "owner_id": "alice", "filename": filename}}


async def test_a_rebuild_fills_carries_tombstones_swaps_then_drops_the_old_index() -> None:
    maintenance = FakeMaintenance()
    maintenance.old_tombstones = [{"image_id": "gone", "owner_id": "alice", "deleted_at": "2024-01-01T00:00:00+00:00"}]
    source = ListSource([_item("a"), _item("b")], [_item("c"), {"uploaded": "junk"}, _item("d", "refused.jpg")])
    report = await rebuild_index(maintenance, source, grace_seconds=0)  # type: ignore[arg-type]
    assert maintenance.steps == ["start", "write", "write", "tombstones", "write", "refresh", "swap", "drop images-v1"]
    assert [doc["image_id"] for doc in maintenance.written["images-v2"]] == ["a", "b", "c", "d", "gone"]
    assert maintenance.written["images-v2"][-1]["deleted"] is True
    assert (report.index, report.replaced, report.documents, report.tombstones, report.skipped) == (
        "images-v2",
        ["images-v1"],
        3,
        1,
        2,
    )


@pytest.mark.parametrize("step", ["write", "tombstones", "refresh", "swap"])
async def test_a_failed_rebuild_drops_its_own_index_and_leaves_the_live_one(step: str) -> None:
    maintenance = FakeMaintenance()
    maintenance.fail_at = step
    with pytest.raises(IndexUnavailable):
        await rebuild_index(maintenance, ListSource([_item("a")]), grace_seconds=0)  # type: ignore[arg-type]
    assert maintenance.steps[-1] == "drop images-v2"
    assert "drop images-v1" not in maintenance.steps


async def test_a_second_rebuild_is_refused_while_one_runs() -> None:
    maintenance = FakeMaintenance()
    maintenance.busy = True
    with pytest.raises(RebuildInProgress):
        await rebuild_index(maintenance, ListSource(), grace_seconds=0)  # type: ignore[arg-type]
    assert maintenance.steps == []


# ----- in the background ------------------------------------------------------------------


async def test_a_background_rebuild_retries_until_it_succeeds_and_readiness_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pixtract.search.reindex.RETRY_FIRST_S", 0.01)
    attempts: list[int] = []
    release = asyncio.Event()

    async def rebuild() -> RebuildReport:
        attempts.append(1)
        if len(attempts) < 3:
            raise UploadUnavailable("upload is starting")
        await release.wait()
        return RebuildReport("images-v2")

    background = BackgroundRebuild(rebuild)
    await background.check()  # nothing requested: ready
    background.request()
    background.request()  # already running: not a second one
    while len(attempts) < 3:
        await asyncio.sleep(0.01)
    with pytest.raises(IndexRebuilding):
        await background.check()
    release.set()
    await background.wait()
    await background.check()
    assert len(attempts) == 3


async def test_a_background_rebuild_gives_way_to_another_one() -> None:
    async def rebuild() -> RebuildReport:
        raise RebuildInProgress("the reindex command runs")

    background = BackgroundRebuild(rebuild)
    background.request()
    await background.wait()
    await background.check()


async def test_stopping_cancels_a_running_rebuild() -> None:
    started = asyncio.Event()

    async def rebuild() -> RebuildReport:
        started.set()
        await asyncio.sleep(60)
        raise AssertionError("not cancelled")

    background = BackgroundRebuild(rebuild)
    background.request()
    await started.wait()
    await background.stop()
    assert not background.running


def test_rebuilding_on_an_empty_index_needs_the_internal_token() -> None:
    with pytest.raises(ValidationError, match="internal_token"):
        Settings(reindex_on_empty_index=True)
    assert Settings(reindex_on_empty_index=True, internal_token=TOKEN).reindex_on_empty_index


# ----- the upload export ------------------------------------------------------------------


def _export(handler: Any) -> tuple[UploadExport, httpx.AsyncClient]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return UploadExport(http, "http://upload:8102/", TOKEN, page_size=2), http


async def test_the_export_is_read_page_by_page_with_the_internal_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        cursor = request.url.params.get("cursor")
        if cursor is None:
            return httpx.Response(200, json={"items": [{"image_id": "a"}, {"image_id": "b"}], "next_cursor": "Yg"})
        return httpx.Response(200, json={"items": [{"image_id": "c"}], "next_cursor": None})

    export, http = _export(handler)
    async with http:
        pages = [page async for page in export.pages()]
    assert pages == [[{"image_id": "a"}, {"image_id": "b"}], [{"image_id": "c"}]]
    assert [str(r.url) for r in seen] == [
        "http://upload:8102/internal/v1/images?limit=2",
        "http://upload:8102/internal/v1/images?limit=2&cursor=Yg",
    ]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN.get_secret_value()}" for r in seen)


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(404, json={}), "internal token configured"),
        (httpx.Response(401, json={}), "share one"),
        (httpx.Response(503, json={}), "503"),
        (httpx.Response(200, text="<html>"), "not JSON"),
        (httpx.Response(200, json=[1]), "not a page"),
        (httpx.Response(200, json={"next_cursor": None}), "without items"),
    ],
)
async def test_an_export_that_cannot_be_read_is_upload_unavailable(response: httpx.Response, reason: str) -> None:
    export, http = _export(lambda _: response)
    async with http:
        with pytest.raises(UploadUnavailable, match=reason):
            _ = [page async for page in export.pages()]


async def test_upload_down_is_upload_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    export, http = _export(handler)
    async with http:
        with pytest.raises(UploadUnavailable, match="unreachable"):
            _ = [page async for page in export.pages()]


def test_the_reindex_command_refuses_to_start_without_the_internal_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pixtract.search.__main__ import EXIT_FAILED, main

    monkeypatch.delenv("PIXTRACT_SEARCH_INTERNAL_TOKEN", raising=False)
    # The command configures logging for its process; not for the rest of this test session.
    monkeypatch.setattr("pixtract.search.__main__.configure_logging", lambda *args: None)
    assert main(["reindex"]) == EXIT_FAILED
    assert "PIXTRACT_SEARCH_INTERNAL_TOKEN" in capsys.readouterr().err
