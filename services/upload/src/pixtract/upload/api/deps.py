"""What the routes need, taken from the app state the lifespan filled."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from pixtract.upload.adapters.mongo import MongoImageRepository
from pixtract.upload.adapters.s3 import MediaStore
from pixtract.upload.config import Settings
from pixtract.upload.ingest import ImageIngest
from pixtract.upload.resumable import ResumableUploads
from pixtract.upload.tasks.periodic import PeriodicTask


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _images(request: Request) -> MongoImageRepository:
    images: MongoImageRepository = request.app.state.images
    return images


def _media(request: Request) -> MediaStore:
    media: MediaStore = request.app.state.media
    return media


def _ingest(request: Request) -> ImageIngest:
    ingest: ImageIngest = request.app.state.ingest
    return ingest


def _resumable(request: Request) -> ResumableUploads:
    resumable: ResumableUploads = request.app.state.resumable
    return resumable


def _outbox_relay(request: Request) -> PeriodicTask:
    relay: PeriodicTask = request.app.state.outbox_relay
    return relay


SettingsDep = Annotated[Settings, Depends(_settings)]
Images = Annotated[MongoImageRepository, Depends(_images)]
Media = Annotated[MediaStore, Depends(_media)]
Ingest = Annotated[ImageIngest, Depends(_ingest)]
OutboxRelayTask = Annotated[PeriodicTask, Depends(_outbox_relay)]
Resumable = Annotated[ResumableUploads, Depends(_resumable)]
