"""Deciding whether received bytes are an image we keep, and making its thumbnails.

One pass over the file, meant for a worker thread, through the shared decoder
(`pixtract.common.imaging`): the header gives the dimensions (refused above the pixel limit
before any pixel is decoded), then the image is decoded once in full (truncated or corrupt
data fails here), EXIF is read, and the thumbnails are drawn from the decoded pixels with
the EXIF orientation applied.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from enum import StrEnum
from typing import IO

from PIL import Image

from pixtract.common.imaging import TooManyPixels, UnreadableImage, open_image, upright
from pixtract.upload.domain.exif import PhotoMetadata, read_photo_metadata
from pixtract.upload.domain.formats import ACCEPTED_FORMATS, FileType


class ThumbnailSize(StrEnum):
    SMALL = "small"
    LARGE = "large"


# Longest side of each thumbnail, in pixels; smaller images are never upscaled.
THUMBNAIL_SIDES: dict[ThumbnailSize, int] = {ThumbnailSize.SMALL: 256, ThumbnailSize.LARGE: 1280}
THUMBNAIL_MEDIA_TYPE = "image/webp"
THUMBNAIL_QUALITY = 80


class ImageRefused(Exception):
    """The file is not an image this service keeps."""


class UnsupportedImage(ImageRefused):
    def __init__(self, file_type: FileType) -> None:
        super().__init__(f"{file_type.name} is not a supported image type")
        self.file_type = file_type


class ImageTooLarge(ImageRefused):
    """More pixels than the limit: refused from the header, before decoding."""


class CorruptImage(ImageRefused):
    """Truncated or corrupt data: the header may parse, the pixels do not."""


@dataclass(frozen=True)
class Thumbnail:
    size: ThumbnailSize
    data: bytes
    width: int
    height: int

    @property
    def etag(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:32]


@dataclass(frozen=True)
class InspectedImage:
    file_type: FileType
    # As displayed: with the EXIF orientation applied, like the thumbnails.
    width: int
    height: int
    metadata: PhotoMetadata
    thumbnails: dict[ThumbnailSize, Thumbnail]


def inspect_image(source: IO[bytes], file_type: FileType, *, max_pixels: int) -> InspectedImage:
    """Check and decode an image of a detected type; raises an `ImageRefused` saying why not."""
    if file_type not in ACCEPTED_FORMATS or file_type.pillow_format is None:
        raise UnsupportedImage(file_type)
    # JPEG only: decode at the smallest scale that still covers the large thumbnail.
    large_side = THUMBNAIL_SIDES[ThumbnailSize.LARGE]
    try:
        with open_image(
            source, max_pixels=max_pixels, draft_side=large_side, formats=[file_type.pillow_format]
        ) as image:
            metadata = _metadata(image.exif)
            thumbnails = make_thumbnails(image.pixels, image.orientation)
            display_width, display_height = image.size
    except TooManyPixels as exc:
        pixels = exc.width * exc.height
        raise ImageTooLarge(f"{exc.width}x{exc.height} is {pixels:,} pixels; the limit is {max_pixels:,}") from exc
    except UnreadableImage as exc:
        raise CorruptImage(f"the {file_type.name} is truncated or corrupt ({exc.reason})") from exc
    return InspectedImage(file_type, display_width, display_height, metadata, thumbnails)


def _metadata(exif: Image.Exif) -> PhotoMetadata:
    try:
        return read_photo_metadata(exif)
    except Exception:  # broken EXIF in a good image costs the metadata, not the upload
        return PhotoMetadata()


def make_thumbnails(image: Image.Image, orientation: int) -> dict[ThumbnailSize, Thumbnail]:
    """WebP thumbnails, upright; each drawn from the next bigger one to decode and resize once."""
    pixels = _webp_ready(image)
    thumbnails: dict[ThumbnailSize, Thumbnail] = {}
    for size in sorted(THUMBNAIL_SIDES, key=THUMBNAIL_SIDES.__getitem__, reverse=True):
        pixels = _fit_within(pixels, THUMBNAIL_SIDES[size])
        turned = upright(pixels, orientation)
        out = io.BytesIO()
        turned.save(out, format="WEBP", quality=THUMBNAIL_QUALITY)
        thumbnails[size] = Thumbnail(size, out.getvalue(), turned.width, turned.height)
    return thumbnails


def _webp_ready(image: Image.Image) -> Image.Image:
    """8-bit RGB(A) pixels for the WebP encoder."""
    if image.mode in ("RGB", "RGBA"):
        return image
    if image.mode.startswith("I;16"):
        # A plain convert would clip 16-bit values at 255: nearly every pixel turns white.
        return image.convert("I").point(lambda value: value * (1 / 256)).convert("RGB")
    if image.mode in ("I", "F"):
        # No fixed range (scientific TIFFs): stretch what is there to 0..255. One band: (low, high).
        low, high = (float(value) for value in image.getextrema() if isinstance(value, int | float))
        scale = 255 / (high - low) if high > low else 0
        return image.point(lambda value: value * scale - low * scale).convert("RGB")
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def _fit_within(image: Image.Image, side: int) -> Image.Image:
    longest = max(image.size)
    if longest <= side:
        return image
    scale = side / longest
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
