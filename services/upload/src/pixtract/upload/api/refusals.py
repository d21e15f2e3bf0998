"""How a refused file is answered, the same for a multipart upload and a finished tus upload."""

from __future__ import annotations

from pixtract.common.errors import Problem
from pixtract.upload.domain.formats import ACCEPTED_FORMATS
from pixtract.upload.domain.inspection import CorruptImage, ImageTooLarge, UnsupportedImage
from pixtract.upload.ingest import FileRefused

SUPPORTED_TYPES_TEXT = ", ".join(sorted(file_type.name.removesuffix(" image") for file_type in ACCEPTED_FORMATS))


def refusal_problem(refused: FileRefused) -> Problem:
    """415 for a type we do not keep (naming what was detected), 422 for too many pixels or bad data."""
    name = refused.filename or f"file {refused.position}"
    reason = refused.reason
    if isinstance(reason, UnsupportedImage):
        detail = (
            f"{name} is not a supported image: detected {reason.file_type.name}; supported: {SUPPORTED_TYPES_TEXT}."
        )
        return Problem(415, detail, slug="unsupported-image-type")
    if isinstance(reason, ImageTooLarge):
        return Problem(422, f"{name} has too many pixels: {reason}.", slug="image-too-large")
    if isinstance(reason, CorruptImage):
        return Problem(422, f"{name} cannot be decoded: {reason}.", slug="corrupt-image")
    return Problem(422, f"{name} was refused: {reason}.", slug="image-refused")
