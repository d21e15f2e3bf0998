"""End-to-end ingest: images per second from upload to `ready`, stage by stage, against the models alone.

    python -m bench.ingest                                  # 200 mixed images, with 1 then 2 replicas
    python -m bench.ingest --count 20 --replicas 1 --latency 4   # a quick look
    python -m bench.ingest --replicas 1,2,3 --concurrency 16
    PIXTRACT_BENCH_BASE_URL=http://host:8080 python -m bench.ingest   # any running system: rates only

Starts the local stack on free ports (all five services and the ingress) and measures, on
one set of mixed images: half documents rendered from the OCR evaluation set
(bench/ocr_set.py: receipts, notes, forms, screenshots, clean and degraded, so OCR reads
real text) and half scikit-image photos (astronaut, cat, coffee, rocket), each cropped,
scaled and colour-shifted differently, so every file is other bytes and dedup keeps all.

1. Latency: `--latency` images one at a time, each polled until `ready`.
2. Throughput: the whole set uploaded by `--concurrency` clients through the ingress, the
   image list polled every 0.25 s; images/s from the first upload's start to the last
   image seen `ready`. Each user is new, so no run finds another's images. Per stage:
   - the services' own metrics (each replica's /metrics, before and after): upload's
     `POST /api/v1/images` time, and each consumer group's handler time per topic
     (`pixtract_event_handler_seconds`): tagging, ocr, search (index) and upload (storing
     results). Handler time is wall time per event, waits for a worker thread included;
   - CPU seconds each process of the stack spent during the run (/proc);
   - from the image records (Mongo `media.images`): when each was stored and read by OCR,
     and when the poll saw it `ready` (tagging's own time is not there: tagging publishes
     again once OCR has typed the image, and the record keeps the last result's time).
   It runs once per `--replicas` value: N copies of tagging and of ocr in their consumer
   groups (`Stack.start_service(name, replica=n)`), after the groups have settled. For each
   run: the events of `images.uploaded` per partition (read back from the topic) and the
   events each replica handled, with the partitions whose counts add up to it.
3. Bare models: after the stack stopped, the tagging models (EfficientNet-Lite0 and the
   face detector) and the OCR engine (RapidOCR detector and recogniser) alone, in this
   process, one image at a time on one thread, on the very same images, with the services'
   default settings. Their summed seconds divided by the cores is the models' own limit
   on this machine: the wall time if every core ran nothing but the models. The ratio
   printed for each run is pipeline wall time / that limit (1.00 = no overhead at all).

Against `PIXTRACT_BENCH_BASE_URL` only latency, the rate and the bare models (on this
machine, which may not be the server's) are measured.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

# onnxruntime and the face library's OpenMP would otherwise spin a thread per core (bare models).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import httpx
import numpy as np
import pymongo
from numpy.typing import NDArray
from PIL import Image, ImageOps

from bench.ocr_set import DOCUMENTS, PAPER, VARIANTS, degrade, render
from bench.system import Metrics, cpu_used, handler_seconds, request_seconds, scrape, sign_in
from pixtract.localstack import Stack, StackConfig
from pixtract.localstack.config import service_instance

if TYPE_CHECKING:
    from pixtract.ocr.domain.ocr import LineEngine
    from pixtract.ocr.domain.text import OcrLine
    from pixtract.tagging.domain.faces import FaceBox, FaceDetector

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
SCALED = ("tagging", "ocr")
UPLOADED = "images.uploaded"
POLL_S = 0.25
WARM_UP = 8


def cores() -> int:
    return len(os.sched_getaffinity(0))


def load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# ----- images -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestImage:
    name: str
    kind: str  # document | photo
    data: bytes

    @property
    def content_type(self) -> str:
        return "image/png" if self.data.startswith(b"\x89PNG") else "image/jpeg"


def documents(count: int) -> list[IngestImage]:
    """Every evaluation document in every degradation, then again on a wider margin (other pixels)."""
    rendered: dict[str, Image.Image] = {}
    out = []
    for n in range(count):
        index = n % len(DOCUMENTS)
        doc = DOCUMENTS[index]
        variant = VARIANTS[n // len(DOCUMENTS) % len(VARIANTS)]
        lap = n // (len(DOCUMENTS) * len(VARIANTS))
        clean = rendered.setdefault(doc.name, render(doc))
        if lap:
            clean = ImageOps.expand(clean, border=16 * lap, fill=PAPER)
        out.append(IngestImage(f"{n:03}-{doc.name}-{variant}.img", "document", degrade(clean, variant, index + lap)))
    return out


def photos(count: int) -> list[IngestImage]:
    """scikit-image's photos, each copy cropped, scaled and colour-shifted its own way."""
    import skimage.data

    bases = {name: Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in PHOTOS}
    out = []
    for n in range(count):
        name = PHOTOS[n % len(PHOTOS)]
        base, v = bases[name], n // len(PHOTOS)
        keep = 0.78 + 0.02 * (v % 11)
        width, height = round(base.width * keep), round(base.height * keep)
        x, y = v * 37 % (base.width - width + 1), v * 23 % (base.height - height + 1)
        side = 800 + 16 * (v % 25)
        scale = side / max(width, height)
        picture = base.crop((x, y, x + width, y + height)).resize(
            (round(width * scale), round(height * scale)), Image.Resampling.LANCZOS
        )
        warmer = 1 + 0.015 * (v % 7 - 3)
        red, green, blue = picture.split()
        redder = [min(255, round(p * warmer)) for p in range(256)]
        bluer = [min(255, round(p / warmer)) for p in range(256)]
        picture = Image.merge("RGB", (red.point(redder), green, blue.point(bluer)))
        encoded = io.BytesIO()
        picture.save(encoded, format="JPEG", quality=90)
        out.append(IngestImage(f"{n:03}-{name}.jpg", "photo", encoded.getvalue()))
    return out


def mixed_images(count: int) -> list[IngestImage]:
    """Documents and photos taking turns, every one distinct bytes (dedup would drop a copy)."""
    docs, pics = documents((count + 1) // 2), photos(count // 2)
    images = [docs[i // 2] if i % 2 == 0 else pics[i // 2] for i in range(count)]
    if len({hashlib.sha256(image.data).digest() for image in images}) != count:
        raise RuntimeError("the image set has identical files: dedup would drop them")
    return images


# ----- one image at a time ------------------------------------------------------------------


def upload_to_ready(http: httpx.Client, auth: Mapping[str, str], image: IngestImage) -> tuple[float, float]:
    """Seconds for the upload request, and from its start until the image is ready."""
    started = time.perf_counter()
    files = [("files", (image.name, image.data, image.content_type))]
    response = http.post("/api/v1/images", files=files, headers=dict(auth))
    response.raise_for_status()
    uploaded = time.perf_counter() - started
    image_id = response.json()["images"][0]["id"]
    while True:
        state = http.get(f"/api/v1/images/{image_id}", headers=dict(auth)).json()["state"]
        if state == "ready":
            return uploaded, time.perf_counter() - started
        if state == "failed" or time.perf_counter() - started > 300:
            raise RuntimeError(f"image {image_id} ended {state}")
        time.sleep(0.02)


@dataclass
class Latency:
    uploads: list[float]
    ready: list[float]


def latency(base_url: str, images: list[IngestImage]) -> Latency:
    with httpx.Client(base_url=base_url, timeout=120) as http:
        auth = sign_in(http)
        results = [upload_to_ready(http, auth, image) for image in images]
    figures = Latency([u for u, _ in results], [r for _, r in results])
    print(f"latency: {len(images)} mixed images one at a time (load average {load()})")
    for label, values in (("upload request", figures.uploads), ("upload → ready", figures.ready)):
        print(f"  {label:<16} p50 {statistics.median(values) * 1000:7.0f} ms  max {max(values) * 1000:7.0f} ms")
    return figures


# ----- many at once -------------------------------------------------------------------------


@dataclass
class Uploaded:
    image: IngestImage
    started: float  # time.time(), to compare with the records' timestamps
    answered: float
    ready_at: float | None = None
    failed: bool = False


@dataclass
class Ingest:
    uploads: dict[str, Uploaded]

    @property
    def started(self) -> float:
        return min(u.started for u in self.uploads.values())

    @property
    def wall(self) -> float:
        return max(u.ready_at or u.answered for u in self.uploads.values()) - self.started

    @property
    def upload_wall(self) -> float:
        return max(u.answered for u in self.uploads.values()) - self.started

    @property
    def rate(self) -> float:
        return len(self.uploads) / self.wall


async def ingest(
    base_url: str, auth: Mapping[str, str], images: list[IngestImage], concurrency: int, limit_s: float
) -> Ingest:
    """Upload every image with `concurrency` clients while polling the list until all are ready."""
    queue = list(reversed(images))
    uploads: dict[str, Uploaded] = {}
    limits = httpx.Limits(max_connections=concurrency + 1, max_keepalive_connections=concurrency + 1)
    async with httpx.AsyncClient(base_url=base_url, headers=dict(auth), timeout=300, limits=limits) as http:

        async def client() -> None:
            while queue:
                image = queue.pop()
                started = time.time()
                files = [("files", (image.name, image.data, image.content_type))]
                response = await http.post("/api/v1/images", files=files)
                response.raise_for_status()
                summary = response.json()["images"][0]
                if summary.get("duplicate"):
                    raise RuntimeError(f"{image.name} was taken for a duplicate")
                uploads[summary["id"]] = Uploaded(image, started, time.time())

        async def poll() -> None:
            deadline = time.monotonic() + limit_s
            while True:
                await asyncio.sleep(POLL_S)
                seen, cursor = time.time(), None
                while True:
                    params = {"limit": "200"} if cursor is None else {"limit": "200", "cursor": cursor}
                    page = await http.get("/api/v1/images", params=params)
                    page.raise_for_status()
                    for item in page.json()["items"]:
                        known = uploads.get(item["id"])
                        if known is not None and known.ready_at is None and not known.failed:
                            known.ready_at = seen if item["state"] == "ready" else None
                            known.failed = item["state"] == "failed"
                    cursor = page.json().get("next_cursor")
                    if not cursor:
                        break
                waiting = [u for u in uploads.values() if u.ready_at is None and not u.failed]
                if len(uploads) == len(images) and not waiting:
                    return
                if time.monotonic() > deadline:
                    missing = len(waiting) + len(images) - len(uploads)
                    raise TimeoutError(f"{missing} images not ready after {limit_s:.0f} s")

        await asyncio.gather(*(client() for _ in range(concurrency)), poll())
    failed = [u.image.name for u in uploads.values() if u.failed]
    if failed:
        raise RuntimeError(f"{len(failed)} images failed: {', '.join(failed[:5])}")
    return Ingest(uploads)


# ----- what the stack says about a run ------------------------------------------------------


def instances(replicas: int) -> dict[str, tuple[str, int]]:
    """Component name -> (service, replica) of every service copy a run has."""
    out = {name: (name, 1) for name in ("auth", "upload", "tagging", "ocr", "search")}
    for name in SCALED:
        out.update({f"{name}-{r}": (name, r) for r in range(2, replicas + 1)})
    return out


def scrape_all(stack: Stack, replicas: int) -> dict[str, Metrics]:
    return {
        component: scrape(stack.service_url(name, replica))
        for component, (name, replica) in instances(replicas).items()
    }


def per_service(metrics: Mapping[str, Metrics]) -> dict[str, Metrics]:
    out: dict[str, Metrics] = {}
    for component, m in metrics.items():
        service = component.split("-")[0]
        out[service] = out[service].merged(m) if service in out else m
    return out


def stage_table(run: Ingest, delta: Mapping[str, Metrics], cpu: Mapping[str, float]) -> None:
    services = per_service(delta)

    def cpu_of(service: str) -> float:
        return sum(v for k, v in cpu.items() if k.split("-")[0] == service)

    rows: list[tuple[str, str, int, float, str]] = []
    count, seconds = request_seconds(services["upload"], "POST", "/api/v1/images")
    rows.append(("upload", "POST /api/v1/images", count, seconds, f"upload {cpu_of('upload'):.1f}"))
    for group, label, topics in (
        ("tagging", "tagging", (UPLOADED, "images.text_extracted")),
        ("ocr", "ocr", (UPLOADED,)),
        ("search", "index", (UPLOADED, "images.tagged", "images.text_extracted")),
        ("upload", "results", ("images.tagged", "images.text_extracted", "images.indexed")),
    ):
        for n, topic in enumerate(topics):
            count, seconds = handler_seconds(services[group], group, topic)
            cpu_note = f"{group} {cpu_of(group):.1f}" if n == 0 and group != "upload" else ""
            rows.append((label if n == 0 else "", f"{group} ← {topic}", count, seconds, cpu_note))
    print(f"  {'stage':<8}{'where':<38}{'events':>7}{'total s':>9}{'mean ms':>9}   CPU s of the process")
    for label, where, count, seconds, cpu_note in rows:
        mean = f"{seconds / count * 1000:9.0f}" if count else f"{'-':>9}"
        print(f"  {label:<8}{where:<38}{count:>7}{seconds:>9.1f}{mean}   {cpu_note}")
    total = sum(cpu.values())
    print(
        "  CPU s of every process: "
        + ", ".join(f"{k} {v:.1f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]) if v >= 0.05)
    )
    print(
        f"  total {total:.1f} CPU s over {run.wall:.1f} s on {cores()} cores: "
        f"the machine was {total / (run.wall * cores()):.0%} busy with the stack"
    )


def record_times(mongo_url: str, run: Ingest) -> None:
    """When each image was stored and read by OCR, from its record, and when it was seen ready."""
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(mongo_url, tz_aware=True)
    try:
        records = client["media"]["images"].find(
            {"_id": {"$in": list(run.uploads)}}, {"uploaded_at": 1, "result_times": 1}
        )
        times = {r["_id"]: r for r in records}
    finally:
        client.close()
    spans: dict[str, list[float]] = {"request → stored": [], "stored → read": [], "stored → ready": []}
    for image_id, upload in run.uploads.items():
        record = times.get(image_id)
        if record is None:
            continue
        stored: datetime = record["uploaded_at"]
        spans["request → stored"].append(stored.timestamp() - upload.started)
        # Only OCR's: tagging publishes again once OCR has typed the image, so its time is OCR's too.
        read = record.get("result_times", {}).get("ocr")
        if read is not None:
            spans["stored → read"].append((read - stored).total_seconds())
        if upload.ready_at is not None:
            spans["stored → ready"].append(upload.ready_at - stored.timestamp())
    print(f"  per image, from the records (ready as polled, ±{POLL_S} s):")
    for label, values in spans.items():
        if values:
            print(
                f"    {label:<18} p50 {statistics.median(values):7.2f} s  p90 {percentile(values, 90):7.2f} s"
                f"  max {max(values):7.2f} s"
            )


async def _partition_counts(bootstrap: str, keys: set[str]) -> dict[int, int]:
    """Events of this run per partition of images.uploaded, read back from the topic."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = sorted(consumer.partitions_for_topic(UPLOADED) or ())
        tps = [TopicPartition(UPLOADED, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        counts = dict.fromkeys(partitions, 0)
        while any([await consumer.position(tp) < end[tp] for tp in tps]):
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                counts[tp.partition] += sum(1 for r in records if r.key is not None and r.key.decode() in keys)
        return counts
    finally:
        await consumer.stop()


async def _groups(bootstrap: str, groups: Iterable[str]) -> dict[str, tuple[str, int]]:
    """Each consumer group's state and member count, as the broker says."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        out = {}
        for wanted in groups:
            # One group a request: Tansu 0.6 answers a request for two with a frame aiokafka cannot decode.
            for response in await admin.describe_consumer_groups([wanted]):
                for error_code, group, state, *_, members in response.groups:
                    out[group] = (state if error_code == 0 else f"error {error_code}", len(members))
        return out
    finally:
        await admin.close()


def wait_for_groups(bootstrap: str, replicas: int, timeout: float = 120) -> None:
    """Until tagging's and ocr's groups are stable with one member per replica."""
    deadline = time.monotonic() + timeout
    while True:
        groups = asyncio.run(_groups(bootstrap, SCALED))
        if all(groups.get(g) == ("Stable", replicas) for g in SCALED):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"consumer groups did not settle with {replicas} members: {groups}")
        time.sleep(0.5)


def assign_partitions(
    counts: Mapping[int, int], handled: Mapping[str, int], gauged: Mapping[str, set[int]]
) -> dict[str, set[int] | None]:
    """Which partitions each replica read, told by the numbers: the partitions whose events add
    up to what it handled, among those it reported lag on (a replica keeps reporting lag on a
    partition it lost, so this narrows but does not decide), and not settled for another one.
    None where the numbers allow more than one answer."""
    used = [p for p, n in counts.items() if n]
    options = {}
    for name, events in handled.items():
        found = [
            set(chosen)
            for size in range(len(used) + 1)
            for chosen in combinations(used, size)
            if sum(counts[p] for p in chosen) == events
        ]
        options[name] = [c for c in found if c <= gauged[name]] or found
    settled: dict[str, set[int]] = {}
    progress = True
    while progress:
        progress = False
        taken = set().union(*settled.values())
        for name, found in options.items():
            left = [c for c in found if not c & taken]
            if name not in settled and len(left) == 1:
                settled[name] = left[0]
                progress = True
    return {name: settled.get(name) for name in handled}


def partition_report(stack: Stack, run: Ingest, replicas: int, delta: Mapping[str, Metrics]) -> None:
    bootstrap = stack.endpoints.kafka_bootstrap
    counts = asyncio.run(_partition_counts(bootstrap, set(run.uploads)))
    groups = asyncio.run(_groups(bootstrap, SCALED))
    spread = ", ".join(f"p{p} {n}" for p, n in counts.items())
    print(f"  {UPLOADED}: {len(counts)} partitions; this run's events per partition: {spread}")
    for group in SCALED:
        state, members = groups.get(group, ("unknown", 0))
        components = [group if r == 1 else f"{group}-{r}" for r in range(1, replicas + 1)]
        handled = {c: handler_seconds(delta[c], group, UPLOADED)[0] for c in components}
        gauged = {
            c: {
                int(p)
                for p in delta[c].label_values(
                    "pixtract_consumer_lag_messages", "partition", topic=UPLOADED, group=group
                )
            }
            for c in components
        }
        assigned = assign_partitions(counts, handled, gauged)
        parts = [f"{c} handled {handled[c]} {_partition_set(assigned[c])}" for c in components]
        print(f"  {group} group ({members} members, {state}): " + "; ".join(parts))


def _partition_set(partitions: set[int] | None) -> str:
    return (
        "(partitions ambiguous)" if partitions is None else "{" + ", ".join(f"p{p}" for p in sorted(partitions)) + "}"
    )


@dataclass
class Run:
    replicas: int
    ingest: Ingest


def scale(stack: Stack, replicas: int) -> None:
    """Exactly `replicas` copies of tagging and of ocr, their consumer groups settled."""
    running = [service_instance(c.name) for c in stack.components()]
    for name in SCALED:
        for service, replica in filter(None, running):
            if service == name and replica > replicas:
                stack.stop_service(name, replica=replica)
        for replica in range(2, replicas + 1):
            if (name, replica) not in running:
                stack.start_service(name, replica=replica)
    wait_for_groups(stack.endpoints.kafka_bootstrap, replicas)


def throughput(
    base_url: str, images: list[IngestImage], concurrency: int, timeout: float, stack: Stack | None, replicas: int
) -> Ingest:
    with httpx.Client(base_url=base_url, timeout=120) as http:
        warm_auth, auth = sign_in(http), sign_in(http)
    # Warm-up: the first images through each (new) replica load caches and sessions.
    asyncio.run(ingest(base_url, warm_auth, images[:WARM_UP], concurrency, timeout))
    copies = f"{replicas} replica{'s' if replicas > 1 else ''} of tagging and ocr"
    print(f"throughput: {len(images)} mixed images, {concurrency} clients, {copies} (load average {load()})")
    if stack is None:
        run = asyncio.run(ingest(base_url, auth, images, concurrency, timeout))
    else:
        pids = {c.name: c.pid for c in stack.components()}
        before = scrape_all(stack, replicas)
        with cpu_used(pids) as cpu:
            run = asyncio.run(ingest(base_url, auth, images, concurrency, timeout))
        after = scrape_all(stack, replicas)
        # Counters and histograms as the run's increase; the lag gauge's labels (partitions
        # a replica was ever assigned) stay.
        delta = {k: after[k] - before[k] for k in after}
    print(
        f"  {len(images)} images in {run.wall:.1f} s from the first upload to the last ready: {run.rate:.2f} img/s"
        f"  (uploads alone done after {run.upload_wall:.1f} s; load average {load()})"
    )
    if stack is not None:
        stage_table(run, delta, cpu)
        record_times(stack.endpoints.mongo_url, run)
        partition_report(stack, run, replicas, delta)
    return run


# ----- the models alone ---------------------------------------------------------------------


class TimedFaces:
    """The face detector, adding up the seconds it takes."""

    def __init__(self, inner: FaceDetector) -> None:
        self.inner = inner
        self.version = inner.version
        self.seconds = 0.0

    def detect(self, rgb: NDArray[np.uint8]) -> list[FaceBox]:
        started = time.perf_counter()
        try:
            return self.inner.detect(rgb)
        finally:
            self.seconds += time.perf_counter() - started


class TimedEngine:
    """The OCR engine, adding up the seconds it takes."""

    def __init__(self, inner: LineEngine) -> None:
        self.inner = inner
        self.model_version = inner.model_version
        self.seconds = 0.0

    def read_lines(self, image: NDArray[np.uint8]) -> list[OcrLine]:
        started = time.perf_counter()
        try:
            return self.inner.read_lines(image)
        finally:
            self.seconds += time.perf_counter() - started


@dataclass
class Bare:
    """Seconds per image: the models only, and the stage's whole in-process path."""

    tagging_models: list[float] = field(default_factory=list)
    tagging_path: list[float] = field(default_factory=list)
    ocr_models: list[float] = field(default_factory=list)
    ocr_path: list[float] = field(default_factory=list)
    # Worker threads per replica in the services' default settings.
    tagging_threads: int = 1
    ocr_threads: int = 1

    @property
    def models(self) -> float:
        return sum(self.tagging_models) + sum(self.ocr_models)

    @property
    def paths(self) -> float:
        return sum(self.tagging_path) + sum(self.ocr_path)


def _timed(images: list[IngestImage], one: Callable[[bytes], float]) -> tuple[list[float], list[float]]:
    one(images[0].data)  # warm-up: sessions allocate on first use
    models, paths = [], []
    for image in images:
        started = time.perf_counter()
        models.append(one(image.data))
        paths.append(time.perf_counter() - started)
    return models, paths


def bare_models(images: list[IngestImage]) -> Bare:
    """The services' models on the same images, in this process, one image at a time, one thread."""
    from pixtract.ocr.adapters.rapid import RapidOcrEngine, RapidOptions
    from pixtract.ocr.config import Settings as OcrSettings
    from pixtract.ocr.domain.ocr import Preprocessing, extract_text
    from pixtract.tagging.adapters.face_detector import YuFaceDetector
    from pixtract.tagging.adapters.onnx_classifier import OnnxClassifier
    from pixtract.tagging.config import Settings as TaggingSettings
    from pixtract.tagging.domain.analysis import analyse_image

    bare = Bare()
    tagging = TaggingSettings()
    bare.tagging_threads = tagging.workers
    classifier = OnnxClassifier(tagging.labels.model_path, intra_op_threads=tagging.labels.intra_op_threads)
    faces = TimedFaces(YuFaceDetector(min_confidence=tagging.face_min_confidence))

    def tag(data: bytes) -> float:
        faces.seconds = 0.0
        analysis = analyse_image(data, max_pixels=tagging.max_pixels, faces=faces)
        started = time.perf_counter()
        if analysis.tensor is not None:
            classifier.predict(analysis.tensor[np.newaxis])
        return faces.seconds + time.perf_counter() - started

    bare.tagging_models, bare.tagging_path = _timed(images, tag)

    ocr = OcrSettings()
    bare.ocr_threads = ocr.workers
    engine = TimedEngine(RapidOcrEngine(RapidOptions.of(ocr.engine)))
    # After the engine set its level: "The text detection result is empty" for every photo.
    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    preprocessing = Preprocessing(upscale_below=ocr.engine.upscale_below, deskew=ocr.engine.deskew)

    def read(data: bytes) -> float:
        engine.seconds = 0.0
        extract_text(engine, data, max_pixels=ocr.max_pixels, max_side=ocr.max_side, preprocessing=preprocessing)
        return engine.seconds

    bare.ocr_models, bare.ocr_path = _timed(images, read)
    return bare


def summary(images: list[IngestImage], bare: Bare, runs: list[Run], measured: Latency | None) -> None:
    n, c = len(images), cores()
    limit = bare.models / c
    print(f"bare models: the same {n} images in this process, one at a time, one thread (load average {load()})")
    for label, models, path, what in (
        ("tagging", bare.tagging_models, bare.tagging_path, "EfficientNet-Lite0 + face detector"),
        ("ocr", bare.ocr_models, bare.ocr_path, "RapidOCR detector + recogniser"),
    ):
        docs = sum(m for m, i in zip(models, images, strict=True) if i.kind == "document")
        print(
            f"  {label:<8}{what:<36}{sum(models):7.1f} s  (documents {docs:.1f}, photos {sum(models) - docs:.1f});"
            f" whole in-process stage {sum(path):.1f} s"
        )
    print(
        f"  models' limit on {c} cores: {bare.models:.1f} s / {c} = {limit:.1f} s, {n / limit:.2f} img/s"
        f"  (whole in-process stages: {bare.paths / c:.1f} s, {n * c / bare.paths:.2f} img/s)"
    )
    if runs:
        print("ratio = pipeline wall time / models' limit (1.00: every core ran nothing but the models)")
        print(
            f"floor = the models' seconds spread over the worker threads the run had ({bare.ocr_threads} OCR and"
            f" {bare.tagging_threads} tagging per replica), or the limit when that is lower"
        )
        for run in runs:
            copies = f"{run.replicas} replica{'s' if run.replicas > 1 else ''}"
            wall, rate = run.ingest.wall, run.ingest.rate
            floor = max(
                limit,
                sum(bare.ocr_models) / (bare.ocr_threads * run.replicas),
                sum(bare.tagging_models) / (bare.tagging_threads * run.replicas),
            )
            print(
                f"  {copies:<11}{wall:7.1f} s {rate:6.2f} img/s   ratio {wall / limit:5.2f}"
                f"   wall / sum of bare model times {wall / bare.models:4.2f}"
                f"   floor {floor:.1f} s, wall / floor {wall / floor:5.2f}"
                f"   (ratio against the whole in-process stages {wall * c / bare.paths:5.2f})"
            )
        first = runs[0]
        for run in runs[1:]:
            print(
                f"  {run.replicas} replicas / {first.replicas}: {run.ingest.rate / first.ingest.rate:.2f}x the images/s"
            )
    if measured is not None:
        k = len(measured.ready)
        # Tagging and OCR run side by side: one image's floor is the slower of the two.
        slower = [max(t, o) for t, o in zip(bare.tagging_path[:k], bare.ocr_path[:k], strict=True)]
        p50_ready, p50_floor = statistics.median(measured.ready), statistics.median(slower)
        print(
            f"latency: upload → ready p50 {p50_ready * 1000:.0f} ms against the slower in-process stage p50"
            f" {p50_floor * 1000:.0f} ms on the same {k} images: {p50_ready / p50_floor:.2f}x"
        )


# ----- main ---------------------------------------------------------------------------------


def run(args: argparse.Namespace, images: list[IngestImage], stack: Stack | None, base_url: str) -> None:
    measured = latency(base_url, images[: args.latency]) if args.latency else None
    runs = []
    for replicas in args.replicas:
        if stack is not None:
            scale(stack, replicas)
        elif replicas != 1:
            print(f"  ({replicas} replicas need the local stack: skipped)")
            continue
        runs.append(Run(replicas, throughput(base_url, images, args.concurrency, args.timeout, stack, replicas)))
    if stack is not None:
        rss = stack.rss_kib()
        print("  resident memory at the end (MiB): " + ", ".join(f"{k} {v / 1024:.0f}" for k, v in rss.items() if v))
        stack.stop()
    if args.bare:
        summary(images, bare_models(images), runs, measured)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    count = int(os.environ.get("PIXTRACT_BENCH_INGEST_COUNT", "200"))
    parser.add_argument("--count", type=int, default=count, help="images per throughput run (half documents)")
    parser.add_argument("--concurrency", type=int, default=8, help="clients uploading at once")
    parser.add_argument(
        "--replicas",
        type=lambda text: [int(r) for r in text.split(",")],
        default=[1, 2],
        help="copies of tagging and ocr per run, comma-separated (default 1,2)",
    )
    parser.add_argument("--latency", type=int, default=10, help="images sent one at a time first (0: none)")
    parser.add_argument("--no-bare", dest="bare", action="store_false", help="skip the bare-model baseline")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a run may take")
    args = parser.parse_args(argv)
    images = mixed_images(args.count)
    base_url = os.environ.get("PIXTRACT_BENCH_BASE_URL")
    if base_url:
        run(args, images, None, base_url)
        return
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="pixtract-bench-") as data_dir,
        Stack(StackConfig.for_tests(Path(data_dir))) as stack,
    ):
        stack.start_infra()
        stack.start_services()
        stack.start_ingress()
        print(f"  (stack started in {time.perf_counter() - started:.0f} s on {cores()} cores)")
        run(args, images, stack, stack.endpoints.ingress_url)
    print(f"  (whole benchmark, stack start included: {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
