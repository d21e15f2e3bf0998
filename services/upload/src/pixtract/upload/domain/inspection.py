"""Deciding whether received bytes are an image we keep, and making its thumbnails.

One pass over the file, meant for a worker thread: the header gives the dimensions (refused
above the pixel limit before any pixel is decoded), then every pixel is decoded once
(truncated or corrupt data fails here), EXIF is read, and the thumbnails are drawn with the
EXIF orientation applied.

Two decoders, chosen by the detected type, so that memory stays far below the file size:
- JPEG, PNG, WebP, GIF and TIFF stream through libvips (pyvips): rows are decoded in strips
  and shrunk on the fly to the large thumbnail, so a 100 MB file needs tens of MiB, not the
  hundreds a full decode takes. Exceptions libvips cannot stream (interlaced PNG,
  progressive JPEG, tiled TIFF) still hold at most the pixel limit's worth of data.
- BMP (which this libvips build cannot load) is raw rows: uncompressed ones are read in
  strips through Pillow's raw decoder and box-reduced as they come.
- HEIC/HEIF, palette and RLE BMPs go through the shared Pillow decoder
  (`pixtract.common.imaging`): this libvips build has no HEVC decoder. They decode in full,
  bounded by the pixel limit (phone HEICs are small files, but their pixels are not).
Both hand an upright 8-bit picture of at most the large thumbnail's size to one encoder.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from enum import StrEnum
from typing import IO

import pyvips
from PIL import Image

from pixtract.common.imaging import TooManyPixels, UnreadableImage, open_header, open_image, upright, upright_size
from pixtract.upload.domain import formats
from pixtract.upload.domain.exif import PhotoMetadata, read_photo_metadata
from pixtract.upload.domain.formats import ACCEPTED_FORMATS, FileType

# Untrusted input: no loader outside the ones named below, and no cache of decoded images.
pyvips.block_untrusted_set(True)
pyvips.cache_set_max(0)
# One libvips thread per pipeline: the service already inspects uploads in parallel on its
# worker threads, and each extra libvips thread holds buffers of its own.
pyvips.concurrency_set(1)


class ThumbnailSize(StrEnum):
    SMALL = "small"
    LARGE = "large"


# Longest side of each thumbnail, in pixels; smaller images are never upscaled.
THUMBNAIL_SIDES: dict[ThumbnailSize, int] = {ThumbnailSize.SMALL: 256, ThumbnailSize.LARGE: 1280}
THUMBNAIL_MEDIA_TYPE = "image/webp"
THUMBNAIL_QUALITY = 80
# libwebp effort 0..6: 2 encodes a photo's large thumbnail 3.5x faster than the default 4
# for files 3-5% bigger (measured on skimage photos; encoding was most of an upload's CPU).
THUMBNAIL_WEBP_METHOD = 2


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
    inspect = _INSPECTORS.get(file_type, _inspect_in_full)
    try:
        return inspect(source, file_type, max_pixels)
    except TooManyPixels as exc:
        pixels = exc.width * exc.height
        raise ImageTooLarge(f"{exc.width}x{exc.height} is {pixels:,} pixels; the limit is {max_pixels:,}") from exc
    except UnreadableImage as exc:
        raise CorruptImage(f"the {file_type.name} is truncated or corrupt ({exc.reason})") from exc


# libvips loaders by detected type: only the loader of the type the magic bytes named may run.
_STREAMING_LOADERS = {
    formats.JPEG: "jpegload_source",
    formats.PNG: "pngload_source",
    formats.WEBP: "webpload_source",
    formats.GIF: "gifload_source",
    formats.TIFF: "tiffload_source",
}


def _inspect_streaming(source: IO[bytes], file_type: FileType, max_pixels: int) -> InspectedImage:
    # Before libvips holds the file: it reads through the same file object.
    tiff_exif = _tiff_exif(source) if file_type == formats.TIFF else None
    try:
        image, stream = _open_streaming(source, file_type)
        width, height = image.width, image.height
        if width * height > max_pixels:
            raise TooManyPixels(width, height, max_pixels)
        exif = tiff_exif if tiff_exif is not None else _vips_exif(image)
        orientation = _vips_orientation(image)
        if (shrink := _jpeg_shrink(file_type, width, height)) > 1:
            # JPEG decodes straight to 1/2, 1/4 or 1/8 scale (every byte is still read).
            image, stream = _open_streaming(source, file_type, shrink=shrink)
        if image.format not in ("uchar", "ushort"):
            # No fixed range (scientific TIFFs): one pass to find it, a second to stretch it
            # to 0..255 (a sequential image is read once, so the file is opened again).
            low, high = _value_range(image)
            image, stream = _open_streaming(source, file_type)
            scale = 255 / (high - low) if high > low else 0
            image = image.linear(scale, -low * scale).cast("uchar")
        # Pulls every row through the decoder (so truncation is found), shrunk and upright.
        picture = image.thumbnail_image(THUMBNAIL_SIDES[ThumbnailSize.LARGE], size="down")
        picture = _vips_to_pillow(_eight_bit(picture))
        del stream  # kept alive until libvips has read its last byte
    except pyvips.Error as exc:
        raise UnreadableImage(_vips_reason(exc)) from exc
    display_width, display_height = upright_size(width, height, orientation)
    thumbnails = make_thumbnails(picture, orientation=0)
    return InspectedImage(file_type, display_width, display_height, _metadata(exif), thumbnails)


def _open_streaming(source: IO[bytes], file_type: FileType, **options: int) -> tuple[pyvips.Image, pyvips.SourceCustom]:
    """The first frame or page, lazily: only the header is read here."""
    source.seek(0)
    stream = pyvips.SourceCustom()
    stream.on_read(source.read)
    stream.on_seek(source.seek)
    load = getattr(pyvips.Image, _STREAMING_LOADERS[file_type])
    return load(stream, access="sequential", fail_on="error", **options), stream


def _jpeg_shrink(file_type: FileType, width: int, height: int) -> int:
    """The largest JPEG scale-down that still covers the large thumbnail (1 = none)."""
    if file_type != formats.JPEG:
        return 1
    longest = max(width, height)
    return next((factor for factor in (8, 4, 2) if longest // factor >= THUMBNAIL_SIDES[ThumbnailSize.LARGE]), 1)


def _value_range(image: pyvips.Image) -> tuple[float, float]:
    stats = image.stats()  # row 0: all bands together; columns 0 and 1: min and max
    return float(stats(0, 0)[0]), float(stats(1, 0)[0])


# Rows of a BMP read at once: a few MiB of a 100 MB file.
BMP_STRIP_BYTES = 4 * 1024 * 1024
# Pillow modes whose raw BMP rows decode on their own (palette BMPs need their palette).
_BMP_STRIP_MODES = frozenset({"RGB", "RGBA", "L", "1"})
# Bits per pixel of the raw modes Pillow reads BMP rows with. Anything else (a 4-bit file
# whose grey palette made Pillow call it "L", say) is decoded in full, where every decoder
# error is a refusal.
_BMP_RAW_BITS = {"BGR": 24, "BGRX": 32, "BGRA": 32, "L": 8, "1": 1}


def _inspect_bmp(source: IO[bytes], file_type: FileType, max_pixels: int) -> InspectedImage:
    with open_header(source, max_pixels=max_pixels, formats=["BMP"]) as header:
        width, height = header.size
        tiles = header.tile
        args = tiles[0].args if len(tiles) == 1 and tiles[0].codec_name == "raw" else None
        if header.mode not in _BMP_STRIP_MODES or not isinstance(args, tuple) or len(args) != 3:
            return _inspect_in_full(source, file_type, max_pixels)
        offset, rawmode, stride, direction = tiles[0].offset, str(args[0]), int(args[1]), int(args[2])
        mode = header.mode
    # Box-reduce by a whole factor to just above the large thumbnail; Lanczos does the rest.
    factor = max(1, max(width, height) // THUMBNAIL_SIDES[ThumbnailSize.LARGE])
    bits = _BMP_RAW_BITS.get(rawmode)
    # Rows are padded to 4 bytes; a strip of `factor` rows must stay small (very wide files).
    if bits is None or stride != (width * bits + 31) // 32 * 4 or factor * stride > BMP_STRIP_BYTES:
        return _inspect_in_full(source, file_type, max_pixels)
    rows_per_strip = max(factor, BMP_STRIP_BYTES // stride // factor * factor)
    reduced = Image.new("L" if mode == "1" else mode, (-(-width // factor), -(-height // factor)))
    for top in range(0, height, rows_per_strip):
        rows = min(rows_per_strip, height - top)
        # Bottom-up files (direction -1) store the last displayed row first.
        first_stored_row = height - top - rows if direction < 0 else top
        source.seek(offset + first_stored_row * stride)
        data = source.read(rows * stride)
        if len(data) < rows * stride:
            raise UnreadableImage(f"image file is truncated ({height - top} of {height} rows missing)")
        try:
            strip = Image.frombytes(mode, (width, rows), data, "raw", rawmode, stride, direction)
        except (ValueError, OSError) as exc:
            raise UnreadableImage(str(exc) or type(exc).__name__) from exc
        if mode == "1":
            strip = strip.convert("L")
        reduced.paste(strip.reduce(factor) if factor > 1 else strip, (0, top // factor))
    reduced = _fit_within(reduced, THUMBNAIL_SIDES[ThumbnailSize.LARGE], full_size=(width, height))
    thumbnails = make_thumbnails(reduced, orientation=0)  # BMP has no EXIF
    return InspectedImage(file_type, width, height, PhotoMetadata(), thumbnails)


def _inspect_in_full(source: IO[bytes], file_type: FileType, max_pixels: int) -> InspectedImage:
    assert file_type.pillow_format is not None
    with open_image(source, max_pixels=max_pixels, formats=[file_type.pillow_format]) as image:
        metadata = _metadata(image.exif)
        thumbnails = make_thumbnails(image.pixels, image.orientation)
        display_width, display_height = image.size
    return InspectedImage(file_type, display_width, display_height, metadata, thumbnails)


_INSPECTORS = {file_type: _inspect_streaming for file_type in _STREAMING_LOADERS} | {formats.BMP: _inspect_bmp}


def _vips_reason(exc: pyvips.Error) -> str:
    detail = (exc.detail or exc.message or "").strip().splitlines()
    return detail[-1].strip() if detail else "unreadable"


def _vips_exif(image: pyvips.Image) -> Image.Exif:
    exif = Image.Exif()
    if image.get_typeof("exif-data") == 0:
        return exif
    try:
        exif.load(image.get("exif-data"))
    except Exception:  # broken EXIF in a good image costs the metadata, not the image
        return Image.Exif()
    return exif


def _tiff_exif(source: IO[bytes]) -> Image.Exif:
    """A TIFF's EXIF lives in its own tags, which libvips does not hand over; Pillow reads
    them from the header without decoding a pixel."""
    source.seek(0)
    try:
        with Image.open(source, formats=["TIFF"]) as header:
            return header.getexif()
    except Exception:  # broken tags in a good image cost the metadata, not the image
        return Image.Exif()


def _vips_orientation(image: pyvips.Image) -> int:
    """The orientation libvips turns the thumbnail by (0 when none)."""
    if image.get_typeof("orientation") == 0:
        return 0
    value = image.get("orientation")
    return value if isinstance(value, int) and 1 <= value <= 8 else 0


def _eight_bit(image: pyvips.Image) -> pyvips.Image:
    """8-bit grey or sRGB bands, alpha kept (libvips' thumbnail already imports CMYK and
    shifts 16-bit pixels down; this catches what it leaves)."""
    if image.interpretation not in ("b-w", "grey16", "srgb", "rgb16", "multiband"):
        image = image.colourspace("srgb")
    if image.format == "uchar":
        return image
    # A plain cast would clip 16-bit values at 255: nearly every pixel turns white.
    return image.colourspace("srgb" if image.bands >= 3 else "b-w").cast("uchar")


def _vips_to_pillow(image: pyvips.Image) -> Image.Image:
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}.get(image.bands)
    if mode is None:  # extra bands (multispectral TIFFs): the first three are shown
        image, mode = image.extract_band(0, n=3), "RGB"
    return Image.frombytes(mode, (image.width, image.height), image.write_to_memory())


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
        turned.save(out, format="WEBP", quality=THUMBNAIL_QUALITY, method=THUMBNAIL_WEBP_METHOD)
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


def _fit_within(image: Image.Image, side: int, *, full_size: tuple[int, int] | None = None) -> Image.Image:
    """`image` shrunk to `side` on its longest side; `full_size` is the size it stands for
    when it was already reduced (the thumbnail's shape comes from the full picture)."""
    width, height = full_size or image.size
    longest = max(width, height)
    if longest <= side:
        return image
    scale = side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
