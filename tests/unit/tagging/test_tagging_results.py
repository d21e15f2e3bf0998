"""The whole handler path with stand-in models: labels, faces and places into categories; OCR
results re-announcing categories; near-duplicates linked and unlinked; reprocessing."""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from aiokafka.errors import KafkaConnectionError
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from pixtract.common.kafka import ConsumedEvent, PermanentError, TransientError
from pixtract.events.topics import IMAGES_UPLOADED
from pixtract.events.v1 import common_pb2, images_pb2
from pixtract.tagging.consumers.deleted import ImageDeletedHandler
from pixtract.tagging.consumers.results import ResultAnnouncer
from pixtract.tagging.consumers.text import TextExtractedHandler
from pixtract.tagging.consumers.uploaded import TaggingHandler, TaggingTools
from pixtract.tagging.domain.faces import FaceBox
from pixtract.tagging.domain.labels import Label, LabelRequest
from pixtract.tagging.domain.places import Town
from pixtract.tagging.domain.results import HashedImage, near_duplicates
from pixtract.tagging.reprocess import main as reprocess_main
from pixtract.tagging.reprocess import reemit_outdated
from tests.unit.tagging.fakes import InMemoryCategoryStore
from tests.unit.tagging.test_tagging_handlers import Objects, RecordingPublisher

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TABBY = Label("tabby cat", 0.8, ("domestic cat", "cat", "feline", "animal"))
MENU = Label("menu", 0.6, ("document",))


class FixedLabels:
    version = "fixed-1"

    def __init__(self, labels: list[Label]) -> None:
        self.result = labels
        self.requests: list[LabelRequest] = []

    async def labels(self, request: LabelRequest) -> list[Label]:
        self.requests.append(request)
        return list(self.result)


class FixedFaces:
    version = "faces-1"

    def __init__(self, boxes: list[FaceBox]) -> None:
        self.boxes = boxes

    def detect(self, rgb: NDArray[np.uint8]) -> list[FaceBox]:
        return list(self.boxes)


class Stockholm:
    def nearest(self, lat: float, lon: float, *, min_population: int = 0) -> Town | None:
        return Town("Stockholm", "Stockholm", "Sweden", "SE", 59.33, 18.07)


def _photo(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x, y = int(rng.integers(0, size[0] - 60)), int(rng.integers(0, size[1] - 60))
        draw.ellipse((x, y, x + 80, y + 60), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _resized(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data)).resize((640, 480))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70)
    return out.getvalue()


def _uploaded(image_id: str, owner_id: str = "u1", *, at: datetime = T0, gps: bool = False) -> Any:
    message = images_pb2.ImageUploaded(
        image_id=image_id,
        owner_id=owner_id,
        original=common_pb2.ObjectRef(bucket="media", key=f"originals/{owner_id}/{image_id}"),
        content_type="image/jpeg",
        attempt=1,
    )
    message.uploaded_at.FromDatetime(at)
    if gps:
        message.gps.CopyFrom(common_pb2.GeoPoint(lat=59.3293, lon=18.0686))
    return ConsumedEvent(message, image_id, {}, "images.uploaded", 0, 0)


def _text(image_id: str, document_type: str, owner_id: str = "u1") -> Any:
    message = images_pb2.TextExtracted(image_id=image_id, owner_id=owner_id, document_type=document_type)
    return ConsumedEvent(message, image_id, {}, "images.text_extracted", 0, 0)


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


@pytest.fixture
def labels() -> FixedLabels:
    return FixedLabels([TABBY])


@pytest.fixture
def objects() -> Objects:
    found = Objects()
    for n, name in enumerate(["a", "b", "c"]):
        found.objects[("media", f"originals/u1/{name}")] = _photo(n)
    return found


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def handler(
    objects: Objects,
    store: InMemoryCategoryStore,
    publisher: RecordingPublisher,
    executor: ThreadPoolExecutor,
    labels: FixedLabels,
) -> TaggingHandler:
    tools = TaggingTools(labels=labels, gazetteer=Stockholm())
    return TaggingHandler(objects.get_bytes_or_none, store, publisher, executor, 10**8, "v2", tools)


@pytest.fixture
def announcer(store: InMemoryCategoryStore, publisher: RecordingPublisher) -> ResultAnnouncer:
    return ResultAnnouncer(store, publisher)


async def test_labels_places_and_faces_make_the_result(
    handler: TaggingHandler, publisher: RecordingPublisher, store: InMemoryCategoryStore, labels: FixedLabels
) -> None:
    handler.tools.faces = FixedFaces([FaceBox(10, 20, 60, 90, 0.91)])
    await handler(_uploaded("a", gps=True))

    [tagged] = publisher.tagged()
    assert [(lb.name, list(lb.parents)) for lb in tagged.labels] == [
        ("tabby cat", ["domestic cat", "cat", "feline", "animal"]),
        ("person", ["people"]),
        ("Stockholm", ["Sweden"]),
        ("Sweden", []),
    ]
    assert list(tagged.categories) == ["People", "Animals"]
    assert tagged.faces == 1
    [box] = tagged.face_boxes
    assert (box.x0, box.y0, box.x1, box.y1) == (10, 20, 60, 90)  # 320 px: analysed at full size
    assert (tagged.location.place, tagged.location.region, tagged.location.country) == (
        "Stockholm",
        "Stockholm",
        "Sweden",
    )
    assert tagged.location.country_code == "SE"
    assert labels.requests[0].tensor is not None
    assert labels.requests[0].tensor.shape == (3, 224, 224)
    stored = await store.get("a")
    assert stored is not None
    assert (stored.categories, stored.model_version, stored.pending) == (("People", "Animals"), "v2", False)
    assert store.images["a"].specific == (("Animals", "Cats"),)
    assert images_pb2.ImageUploaded.FromString(stored.upload).image_id == "a"


async def test_ocr_after_tagging_re_announces_a_receipt(
    handler: TaggingHandler, publisher: RecordingPublisher, store: InMemoryCategoryStore, announcer: ResultAnnouncer
) -> None:
    handler.tools.labels = FixedLabels([MENU])
    await handler(_uploaded("a"))
    [first] = publisher.tagged()
    assert list(first.categories) == ["Documents"]

    text = TextExtractedHandler(store, announcer)
    await text(_text("a", "receipt"))
    [_, second] = publisher.tagged()
    assert list(second.categories) == ["Receipts"]
    assert second.tagged_at.ToDatetime() > first.tagged_at.ToDatetime()
    assert [lb.name for lb in second.labels] == ["menu"]
    assert second.phash == first.phash

    await text(_text("a", "receipt"))  # redelivered: nothing new to say
    assert len(publisher.tagged()) == 2


async def test_ocr_before_tagging_is_used_at_once(
    handler: TaggingHandler, publisher: RecordingPublisher, store: InMemoryCategoryStore, announcer: ResultAnnouncer
) -> None:
    await TextExtractedHandler(store, announcer)(_text("a", "note"))
    assert publisher.published == []
    await handler(_uploaded("a"))
    [tagged] = publisher.tagged()
    # A cat on a handwritten note: both.
    assert list(tagged.categories) == ["Animals", "Documents"]


async def test_a_result_not_confirmed_published_is_published_by_the_next_event(
    handler: TaggingHandler, publisher: RecordingPublisher, store: InMemoryCategoryStore, announcer: ResultAnnouncer
) -> None:
    publisher.fail_with = KafkaConnectionError("broker gone")
    with pytest.raises(TransientError):
        await handler(_uploaded("a"))
    assert (await store.get("a")).pending  # type: ignore[union-attr]
    publisher.fail_with = None
    await TextExtractedHandler(store, announcer)(_text("a", "none"))
    [tagged] = publisher.tagged()
    assert list(tagged.categories) == ["Animals"]
    assert not (await store.get("a")).pending  # type: ignore[union-attr]


async def test_text_for_a_deleted_image_or_without_ids(
    store: InMemoryCategoryStore, announcer: ResultAnnouncer, publisher: RecordingPublisher
) -> None:
    await store.forget_image("gone", "u1")
    await TextExtractedHandler(store, announcer)(_text("gone", "receipt"))
    assert publisher.published == []
    with pytest.raises(PermanentError):
        await TextExtractedHandler(store, announcer)(_text("", "receipt"))


def test_near_duplicates_are_within_the_distance_nearest_first() -> None:
    candidates = [
        HashedImage("far", "ffffffffffffffff", T0),
        HashedImage("two", "0000000000000003", T0),
        HashedImage("one", "0000000000000001", T0),
        HashedImage("none", "", T0),
    ]
    found = near_duplicates("0000000000000000", candidates, max_distance=10)
    assert [(h.image_id, d) for h, d in found] == [("one", 1), ("two", 2)]
    assert near_duplicates("", candidates, max_distance=64) == []


async def test_a_resized_copy_links_to_the_original(
    handler: TaggingHandler, objects: Objects, publisher: RecordingPublisher
) -> None:
    objects.objects[("media", "originals/u1/copy")] = _resized(objects.objects[("media", "originals/u1/a")])
    await handler(_uploaded("a"))
    await handler(_uploaded("b", at=T0 + timedelta(minutes=1)))
    await handler(_uploaded("copy", at=T0 + timedelta(minutes=2)))
    by_id = {t.image_id: t for t in publisher.tagged()}
    assert list(by_id["a"].duplicates_of) == []
    assert list(by_id["b"].duplicates_of) == []
    assert list(by_id["copy"].duplicates_of) == ["a"]


async def test_a_copy_tagged_before_its_original_is_linked_when_the_original_comes(
    handler: TaggingHandler, objects: Objects, publisher: RecordingPublisher
) -> None:
    objects.objects[("media", "originals/u1/copy")] = _resized(objects.objects[("media", "originals/u1/a")])
    await handler(_uploaded("copy", at=T0 + timedelta(minutes=2)))
    await handler(_uploaded("a"))
    copies = [t for t in publisher.tagged() if t.image_id == "copy"]
    assert [list(t.duplicates_of) for t in copies] == [[], ["a"]]
    assert [list(t.duplicates_of) for t in publisher.tagged() if t.image_id == "a"] == [[]]


async def test_deleting_the_original_unlinks_its_copies(
    handler: TaggingHandler,
    objects: Objects,
    publisher: RecordingPublisher,
    store: InMemoryCategoryStore,
    announcer: ResultAnnouncer,
) -> None:
    objects.objects[("media", "originals/u1/copy")] = _resized(objects.objects[("media", "originals/u1/a")])
    await handler(_uploaded("a"))
    await handler(_uploaded("copy", at=T0 + timedelta(minutes=2)))
    deleted = images_pb2.ImageDeleted(image_id="a", owner_id="u1")
    await ImageDeletedHandler(store, announcer)(ConsumedEvent(deleted, "a", {}, "images.deleted", 0, 0))
    latest = [t for t in publisher.tagged() if t.image_id == "copy"][-1]
    assert list(latest.duplicates_of) == []
    assert list(latest.categories) == ["Animals"]


async def test_another_users_copy_is_not_linked(
    handler: TaggingHandler, objects: Objects, publisher: RecordingPublisher
) -> None:
    objects.objects[("media", "originals/u2/x")] = objects.objects[("media", "originals/u1/a")]
    await handler(_uploaded("a"))
    await handler(_uploaded("x", owner_id="u2", at=T0 + timedelta(minutes=1)))
    assert [list(t.duplicates_of) for t in publisher.tagged()] == [[], []]


async def test_reprocessing_re_emits_uploads_tagged_by_other_versions(
    handler: TaggingHandler, store: InMemoryCategoryStore, publisher: RecordingPublisher
) -> None:
    await handler(_uploaded("a"))
    await handler(_uploaded("b"))
    handler.model_version = "v3"
    await handler(_uploaded("c"))
    publisher.published.clear()

    dry = await reemit_outdated(store, publisher, "v3", dry_run=True)
    assert (dry.outdated, dry.emitted, publisher.published) == (2, 0, [])

    report = await reemit_outdated(store, publisher, "v3")
    assert (report.outdated, report.emitted) == (2, 2)
    assert [(topic, key) for topic, _, key in publisher.published] == [
        (IMAGES_UPLOADED.name, "a"),
        (IMAGES_UPLOADED.name, "b"),
    ]
    reemitted = publisher.published[0][1]
    assert isinstance(reemitted, images_pb2.ImageUploaded)
    assert (reemitted.attempt, reemitted.original.key) == (2, "originals/u1/a")

    # Once redone by the current version, nothing is outdated any more.
    for _, message, key in list(publisher.published):
        assert isinstance(message, images_pb2.ImageUploaded)
        await handler(ConsumedEvent(message, key, {}, "images.uploaded", 0, 1))
    assert (await reemit_outdated(store, publisher, "v3", dry_run=True)).outdated == 0


def test_the_reprocess_command_describes_itself_in_whole_sentences(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        reprocess_main(["--help"])
    assert exited.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    whole_sentence = "whose stored result comes from another model version than the current one."
    assert whole_sentence in help_text
