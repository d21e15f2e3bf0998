"""Topic registry generated from proto/topics.yaml by `make proto`. Do not edit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from pixtract.events.v1 import images_pb2, users_pb2

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Topic(Generic[M]):
    name: str
    key: str
    message_type: type[M]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    partitions: int
    retention_hours: int

    @property
    def dlq(self) -> str:
        """The dead-letter topic that takes this topic's poison messages."""
        return f"{self.name}.dlq"


IMAGES_UPLOADED: Topic[images_pb2.ImageUploaded] = Topic(
    name="images.uploaded",
    key="image_id",
    message_type=images_pb2.ImageUploaded,
    producers=("upload",),
    consumers=("tagging", "ocr", "search"),
    partitions=4,
    retention_hours=168,
)
IMAGES_TAGGED: Topic[images_pb2.ImageTagged] = Topic(
    name="images.tagged",
    key="image_id",
    message_type=images_pb2.ImageTagged,
    producers=("tagging",),
    consumers=("upload", "search"),
    partitions=4,
    retention_hours=168,
)
IMAGES_TEXT_EXTRACTED: Topic[images_pb2.TextExtracted] = Topic(
    name="images.text_extracted",
    key="image_id",
    message_type=images_pb2.TextExtracted,
    producers=("ocr",),
    consumers=("upload", "search", "tagging"),
    partitions=4,
    retention_hours=168,
)
IMAGES_INDEXED: Topic[images_pb2.ImageIndexed] = Topic(
    name="images.indexed",
    key="image_id",
    message_type=images_pb2.ImageIndexed,
    producers=("search",),
    consumers=("upload",),
    partitions=4,
    retention_hours=168,
)
IMAGES_DELETED: Topic[images_pb2.ImageDeleted] = Topic(
    name="images.deleted",
    key="image_id",
    message_type=images_pb2.ImageDeleted,
    producers=("upload",),
    consumers=("search", "tagging", "ocr"),
    partitions=4,
    retention_hours=168,
)
USERS_DELETED: Topic[users_pb2.UserDeleted] = Topic(
    name="users.deleted",
    key="user_id",
    message_type=users_pb2.UserDeleted,
    producers=("auth",),
    consumers=("upload", "tagging", "search", "ocr"),
    partitions=4,
    retention_hours=720,
)

TOPICS: dict[str, Topic[Any]] = {
    t.name: t
    for t in (
        IMAGES_UPLOADED,
        IMAGES_TAGGED,
        IMAGES_TEXT_EXTRACTED,
        IMAGES_INDEXED,
        IMAGES_DELETED,
        USERS_DELETED,
    )
}
