"""Upload throughput through the ingress against raw S3 PUTs, and the upload service's memory on a 100 MB file.

Starts the local stack on free ports with only the auth and upload services (tagging, OCR
and search would otherwise spend the same CPU on every uploaded image while it is being
measured), or uses `PIXTRACT_BENCH_BASE_URL`.

- Throughput: 1, 8 and 32 concurrent clients upload the same number of images, one image
  per request; then as many aioboto3 clients PUT the very same bytes straight into the
  same SeaweedFS. S3/ingress is the price of everything the service does per upload
  (HTTP and multipart through the ingress, spooling, SHA-256, decoding every pixel, two WebP
  thumbnails, Mongo and the outbox) on top of storing the bytes.
  The images: half are 4000x3000 photo-like JPEGs (~2.5 MB), half 1000x1000 RGB-noise
  PNGs (~3 MB). Dedup works on
  the bytes, so each upload gets a unique comment (a JPEG COM segment or a PNG tEXt chunk):
  every file is distinct bytes and a valid image, and no pixel work is shared.
  MB/s depends on whatever else the machine runs; the CPU seconds each process of the
  path (ingress, upload, S3, Mongo, Kafka) spends per 100 MB, read from /proc, do not,
  and their ratio to SeaweedFS's own CPU for the raw PUTs is the overhead in work.
- Memory: VmRSS of the upload service (and the ingress) sampled every 20 ms during one
  upload of 100 MB of random bytes (received and spooled whole, then refused: the
  streaming path alone), and of ~100 MB images of RGB noise: BMP (5770x5770, 33 MP, read in
  strips), PNG (5770x5770, compression level 1, streamed through libvips), TIFF (5770x5770,
  uncompressed, streamed) and JPEG (4930x4930 at quality 100, 24 MP, streamed). Holding
  the decoded pixels of any of them would take 70-100 MiB.
  These need the local stack; against a base URL only the throughput is measured (with
  the raw S3 baseline if `PIXTRACT_BENCH_S3_ENDPOINT`, `..._S3_ACCESS_KEY_ID`,
  `..._S3_SECRET_ACCESS_KEY` and `..._S3_BUCKET` say where its storage is).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import struct
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aioboto3
import httpx
from botocore.config import Config as BotoConfig
from PIL import Image

from bench.system import cpu_used, sign_in
from pixtract.localstack import Stack, StackConfig
from pixtract.localstack.process import rss_kib

CONCURRENCY = (1, 8, 32)
MB = 1_000_000
MIB = 1024 * 1024
RSS_INTERVAL_S = 0.02
# Where CPU goes on the way through the ingress; the raw PUTs only use "s3".
PATH_COMPONENTS = ("ingress", "upload", "s3", "mongo", "kafka")


# ----- images -------------------------------------------------------------------------------


def photo_jpeg() -> bytes:
    """A 12 MP photo-like JPEG (gradients under fine noise), about 2.5 MB."""
    size = (4000, 3000)
    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.frombytes("L", size, os.urandom(size[0] * size[1])).point(lambda value: value // 4)
    image = Image.merge(
        "RGB", (Image.blend(gradient, noise, 0.3), gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise)
    )
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def noise_png(side: int = 1000) -> bytes:
    """RGB noise: incompressible, so a 1 MP PNG is about 3 MB."""
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def with_comment(image: bytes, comment: str) -> bytes:
    """The same image with a comment added: other bytes (another SHA-256), the same pixels."""
    payload = comment.encode()
    if image.startswith(b"\xff\xd8"):
        return image[:2] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + image[2:]
    if image.startswith(b"\x89PNG\r\n\x1a\n"):
        data = b"tEXt" + b"Comment\x00" + payload
        chunk = struct.pack(">I", len(data) - 4) + data + struct.pack(">I", zlib.crc32(data))
        after_header = 8 + 25  # signature, then IHDR (length, type, 13 bytes, CRC)
        return image[:after_header] + chunk + image[after_header:]
    raise ValueError("neither JPEG nor PNG")


@dataclass(frozen=True)
class BenchImage:
    name: str
    data: bytes
    content_type: str


def image_round(bases: list[BenchImage], count: int, tag: str) -> list[BenchImage]:
    images = []
    for n in range(count):
        base = bases[n % len(bases)]
        images.append(BenchImage(f"{tag}-{n:03}-{base.name}", with_comment(base.data, f"{tag}-{n}"), base.content_type))
    return images


# ----- throughput ---------------------------------------------------------------------------


async def upload_all(base_url: str, auth: Mapping[str, str], images: list[BenchImage], clients: int) -> float:
    """Seconds for `clients` concurrent clients to upload every image, one per request."""
    queue: asyncio.Queue[BenchImage] = asyncio.Queue()
    for image in images:
        queue.put_nowait(image)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=base_url, headers=dict(auth), timeout=300, limits=limits) as http:

        async def client() -> None:
            while not queue.empty():
                image = queue.get_nowait()
                response = await http.post(
                    "/api/v1/images", files=[("files", (image.name, image.data, image.content_type))]
                )
                if response.status_code != 201 or response.json()["images"][0]["duplicate"]:
                    raise RuntimeError(f"{image.name}: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - started


@dataclass(frozen=True)
class S3Target:
    endpoint: str
    access_key_id: str
    secret_access_key: str
    bucket: str
    region: str = "us-east-1"


async def put_all(target: S3Target, images: list[BenchImage], clients: int, prefix: str) -> float:
    """Seconds for `clients` concurrent PUTs of the same bytes straight into the bucket."""
    config = BotoConfig(
        s3={"addressing_style": "path"},
        signature_version="s3v4",
        # As the service's client: no extra checksums (SeaweedFS refuses some of them).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=max(clients, 10),
    )
    session = aioboto3.Session()
    async with session.client(
        "s3",
        endpoint_url=target.endpoint,
        region_name=target.region,
        aws_access_key_id=target.access_key_id,
        aws_secret_access_key=target.secret_access_key,
        config=config,
    ) as s3:
        queue: asyncio.Queue[BenchImage] = asyncio.Queue()
        for image in images:
            queue.put_nowait(image)

        async def client() -> None:
            while not queue.empty():
                image = queue.get_nowait()
                await s3.put_object(
                    Bucket=target.bucket, Key=f"{prefix}/{image.name}", Body=image.data, ContentType=image.content_type
                )

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
        for image in images:
            await s3.delete_object(Bucket=target.bucket, Key=f"{prefix}/{image.name}")
        return elapsed


def throughput(
    base_url: str, auth: Mapping[str, str], s3: S3Target | None, count: int, pids: Mapping[str, int] | None = None
) -> None:
    bases = [
        BenchImage("photo.jpg", photo_jpeg(), "image/jpeg"),
        BenchImage("noise.png", noise_png(), "image/png"),
    ]
    run_tag = uuid.uuid4().hex[:8]
    warm_up = image_round(bases, 2, f"warm-{run_tag}")
    asyncio.run(upload_all(base_url, auth, warm_up, 2))
    sizes = ", ".join(f"{b.name} {len(b.data) / MB:.1f} MB" for b in bases)
    print(f"upload: {count} distinct images per round ({sizes}, alternating), through {base_url}")
    print(f"  {'clients':>7}  {'ingress MB/s':>12}  {'images/s':>8}  {'raw S3 PUT MB/s':>15}  {'S3/ingress':>10}")
    cpu_lines = []
    for clients in CONCURRENCY:
        images = image_round(bases, count, f"c{clients}-{run_tag}")
        total = sum(len(image.data) for image in images)
        with cpu_used(pids or {}) as path_cpu:
            seconds = asyncio.run(upload_all(base_url, auth, images, clients))
        ingress = total / MB / seconds
        line = f"  {clients:>7}  {ingress:>12.1f}  {len(images) / seconds:>8.1f}"
        if s3 is not None:
            with cpu_used({"s3": pids["s3"]} if pids else {}) as raw_cpu:
                raw = total / MB / asyncio.run(put_all(s3, images, clients, f"bench-upload/{run_tag}/c{clients}"))
            line += f"  {raw:>15.1f}  {raw / ingress:>9.1f}x"
            if pids:
                per_100mb = 100 * MB / total
                through = sum(path_cpu.values()) * per_100mb
                parts = ", ".join(f"{name} {path_cpu[name] * per_100mb:.1f}" for name in PATH_COMPONENTS)
                direct = raw_cpu["s3"] * per_100mb
                cpu_lines.append(
                    f"  {clients:>7}  through the ingress {through:5.1f} ({parts});"
                    f" raw PUTs: s3 {direct:.1f}; ratio {through / direct:.1f}x"
                )
        print(line)
    if cpu_lines:
        print("  CPU seconds per 100 MB stored (robust to other load on the machine):")
        print("\n".join(cpu_lines))
    if s3 is None:
        print("  (no raw S3 baseline: set PIXTRACT_BENCH_S3_* to measure one)")


# ----- memory during one large upload -------------------------------------------------------


@dataclass
class RssSampler:
    """Peak VmRSS (KiB) of some processes, read from /proc every 20 ms in a thread."""

    pids: Mapping[str, int]
    peak_kib: dict[str, int] = field(default_factory=dict)
    samples: int = 0

    @contextmanager
    def sampling(self) -> Iterator[RssSampler]:
        stop = threading.Event()

        def run() -> None:
            while not stop.is_set():
                for name, pid in self.pids.items():
                    value = rss_kib(pid)
                    if value is not None and value > self.peak_kib.get(name, 0):
                        self.peak_kib[name] = value
                self.samples += 1
                stop.wait(RSS_INTERVAL_S)

        thread = threading.Thread(target=run, name="rss-sampler", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()


def big_bmp(path: Path, side: int = 5770) -> str:
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path, format="BMP")
    return f"BMP {side}x{side} RGB noise, {side * side / 1e6:.1f} MP"


def big_png(path: Path, side: int = 5770) -> str:
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path, format="PNG", compress_level=1)
    return f"PNG {side}x{side} RGB noise, {side * side / 1e6:.1f} MP"


def big_tiff(path: Path, side: int = 5770) -> str:
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path, format="TIFF")
    return f"TIFF {side}x{side} RGB noise, {side * side / 1e6:.1f} MP"


def big_jpeg(path: Path, side: int = 4930) -> str:
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(
        path, format="JPEG", quality=100, subsampling=0
    )
    return f"JPEG {side}x{side} RGB noise q100, {side * side / 1e6:.1f} MP"


def random_bytes(path: Path, size: int = 100 * MB) -> str:
    with path.open("wb") as out:
        for _ in range(size // MIB):
            out.write(os.urandom(MIB))
        out.write(os.urandom(size % MIB))
    return "not an image (random bytes, received whole, then refused with 415)"


LARGE_FILES = (
    (random_bytes, "large.bin", "application/octet-stream", 415),
    (big_bmp, "large.bmp", "image/bmp", 201),
    (big_png, "large.png", "image/png", 201),
    (big_tiff, "large.tif", "image/tiff", 201),
    (big_jpeg, "large.jpg", "image/jpeg", 201),
)


def large_upload_memory(base_url: str, auth: Mapping[str, str], pids: Mapping[str, int], folder: Path) -> None:
    print("  peak resident memory of the upload service during one ~100 MB upload (VmRSS every 20 ms):")
    with httpx.Client(base_url=base_url, headers=dict(auth), timeout=600) as http:
        for make, name, content_type, expected in LARGE_FILES:
            path = folder / name
            what = make(path)
            size = path.stat().st_size
            before = {label: rss_kib(pid) or 0 for label, pid in pids.items()}
            sampler = RssSampler(pids)
            with sampler.sampling(), path.open("rb") as source:
                started = time.perf_counter()
                response = http.post("/api/v1/images", files=[("files", (name, source, content_type))])
                seconds = time.perf_counter() - started
            path.unlink()
            if response.status_code != expected:
                raise RuntimeError(f"{name}: {response.status_code} {response.text[:300]}")
            upload_before = before["upload"] / 1024
            upload_peak = sampler.peak_kib["upload"] / 1024
            others = "".join(
                f", {label} peak {sampler.peak_kib.get(label, 0) / 1024:.0f} MiB" for label in pids if label != "upload"
            )
            print(
                f"    {what}: {size / MB:.1f} MB in {seconds:.1f} s;"
                f" {upload_before:.0f} → peak {upload_peak:.0f} MiB (+{upload_peak - upload_before:.0f} MiB,"
                f" {(upload_peak - upload_before) * MIB / size:.0%} of the file){others}; {sampler.samples} samples"
            )


# ----- main ---------------------------------------------------------------------------------


def _s3_from_env(environ: Mapping[str, str]) -> S3Target | None:
    names = ("ENDPOINT", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "BUCKET")
    values = [environ.get(f"PIXTRACT_BENCH_S3_{name}") for name in names]
    if not all(values):
        return None
    endpoint, key, secret, bucket = (str(value) for value in values)
    return S3Target(endpoint, key, secret, bucket, environ.get("PIXTRACT_BENCH_S3_REGION", "us-east-1"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.upload", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=int(os.environ.get("PIXTRACT_BENCH_UPLOAD_COUNT", "32")))
    args = parser.parse_args(argv)
    base_url = os.environ.get("PIXTRACT_BENCH_BASE_URL")
    if base_url:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            auth = sign_in(http)
        throughput(base_url, auth, _s3_from_env(os.environ), args.count)
        print("  (memory needs the local stack: unset PIXTRACT_BENCH_BASE_URL)")
        return
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="pixtract-bench-") as data_dir,
        Stack(StackConfig.for_tests(Path(data_dir))) as stack,
    ):
        stack.start_infra()
        stack.start_services(["auth", "upload"])
        stack.start_ingress()
        e = stack.endpoints
        s3 = S3Target(e.s3_endpoint, e.s3_access_key_id, e.s3_secret_access_key, e.s3_bucket, e.s3_region)
        with httpx.Client(base_url=e.ingress_url, timeout=60) as http:
            auth = sign_in(http)
        print(f"  (stack started in {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f})")
        pids = {name: stack.processes[name].pid for name in PATH_COMPONENTS}
        throughput(e.ingress_url, auth, s3, args.count, pids)
        large_upload_memory(e.ingress_url, auth, {name: pids[name] for name in ("upload", "ingress")}, Path(data_dir))
    print(f"  (whole benchmark, stack start included: {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
