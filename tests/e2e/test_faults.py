"""Faults during upload bursts: every service killed with SIGKILL in turn, every backing
server stopped and started again in turn, and poison on the event stream. After each, the
pipeline settles by itself: every accepted image ends `ready` with its results, none is
stored twice, no good event sits in a dead-letter topic, and upload's records, S3 and the
search index agree (pixtract.localstack.consistency).

While a backing server is down the services that need it say so on /readyz (503), uploads
that need it answer a clear 503 problem (never a 500, never a half-stored image), and the
client simply tries again later, as the CLI and the gallery do.

Runs on a stack of its own (Kafka keeps its log on a SeaweedFS of its own, as `make up`
does, so a broker restart keeps acknowledged messages and the S3 outage is the media store's
alone) with a short reconciler delay, its production safety
net for events lost with a killed process.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pymongo
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pixtract.common.config import KafkaSettings
from pixtract.events.topics import TOPICS
from pixtract.localstack import Stack
from pixtract.localstack.consistency import check
from pixtract.upload.adapters.backlog import KafkaBacklog
from tests.e2e.client import PixtractClient, photo_jpeg, text_png
from tests.e2e.stacks import stack_of_its_own

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

BURST = 50
CLIENTS = 6
REEMIT_AFTER_S = 20
SETTLE_TIMEOUT_S = 300
# Which services need each backing server (and so must report not-ready without it).
NEEDED_BY = {
    "kafka": ("auth", "upload", "tagging", "ocr", "search"),
    "mongo": ("auth", "upload", "tagging", "ocr"),
    "opensearch": ("search",),
    "s3": ("upload", "tagging", "ocr"),
}
DLQ_TOPICS = [f"{topic.name}.dlq" for topic in TOPICS.values()]


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack_of_its_own(Path(tmp_path_factory.mktemp("faults")), reemit_after_s=REEMIT_AFTER_S) as stack:
        yield stack


@dataclass
class Burst:
    """Uploads from several clients at once; answers the service could not give now are tried again."""

    base_url: str
    token: str
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def upload(self, name: str, data: bytes) -> None:
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        with httpx.Client(base_url=self.base_url, timeout=60.0) as http:
            while time.monotonic() < deadline:
                try:
                    response = http.post(
                        "/api/v1/images",
                        files=[("files", (name, data, "application/octet-stream"))],
                        headers={"Authorization": f"Bearer {self.token}"},
                    )
                except httpx.TransportError:
                    time.sleep(0.5)
                    continue
                with self._lock:
                    self.statuses[response.status_code] += 1
                if response.status_code == 201:
                    with self._lock:
                        self.ids[name] = response.json()["images"][0]["id"]
                    return
                if response.status_code in (502, 503, 504):  # the service or a dependency is down
                    if response.status_code == 503:
                        assert response.headers["content-type"] == "application/problem+json", response.text
                    time.sleep(0.5)
                    continue
                with self._lock:
                    self.failures.append(f"{name}: {response.status_code} {response.text[:200]}")
                return
        with self._lock:
            self.failures.append(f"{name}: never accepted")

    def run(self, files: list[tuple[str, bytes]], *, after: int, fault: Callable[[], None]) -> None:
        """Uploads every file, calling `fault` once `after` of them were accepted."""
        with ThreadPoolExecutor(CLIENTS) as pool:
            futures = [pool.submit(self.upload, name, data) for name, data in files]
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            while len(self.ids) < after and time.monotonic() < deadline and not self.failures:
                time.sleep(0.05)
            fault()
            for future in futures:
                future.result()
        assert self.failures == []
        assert len(self.ids) == len(files)


def _files(tag: str, count: int = BURST) -> list[tuple[str, bytes]]:
    """Photos and a few text images (OCR finds words in those), all distinct bytes."""
    files = []
    for n in range(count):
        if n % 5 == 0:
            files.append((f"{tag}-{n}.png", text_png([f"Fault drill {tag}", f"Receipt {n:03d} total 12.50"])))
        else:
            files.append((f"{tag}-{n}.jpg", photo_jpeg(1000 + n)))  # each scenario has its own user
    return files


def _dead_letters(bootstrap: str) -> dict[str, int]:
    """Messages in each dead-letter topic (end offsets summed over partitions)."""

    async def count() -> dict[str, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            totals = {}
            for topic in DLQ_TOPICS:
                partitions = consumer.partitions_for_topic(topic) or set()
                ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
                totals[topic] = sum(ends.values())
            return totals
        finally:
            await consumer.stop()

    return asyncio.run(count())


def _positions(bootstrap: str) -> dict[tuple[str, str], list[int]]:
    """Per topic and consumer group: the events not committed yet, per partition."""
    backlog = KafkaBacklog(KafkaSettings(bootstrap_servers=bootstrap), topics=list(TOPICS.values()))
    return asyncio.run(backlog.by_group())


def _every_stage_done(image: dict[str, object]) -> bool:
    return image["state"] == "ready" and image["stages"] == {"tagging": "done", "ocr": "done", "search": "done"}


def _settled(stack: Stack, client: PixtractClient, burst: Burst, dead_before: dict[str, int]) -> float:
    """Everything accepted ends ready with results, exactly once, and the stores agree.

    Returns how many seconds the pipeline took to settle after the burst."""
    started = time.monotonic()
    for image_id in burst.ids.values():
        # `ready` needs the tagging and OCR parts indexed; the search stage is done only
        # once the upload part is indexed too, which a restarted search service may reach
        # after the results (it reads the three topics in no particular order).
        try:
            image = client.wait_until(image_id, _every_stage_done, timeout=SETTLE_TIMEOUT_S)
        except AssertionError as exc:
            # Where the events wait: what each consumer group has not committed yet.
            raise AssertionError(f"{exc}\nKafka positions: {_positions(stack.endpoints.kafka_bootstrap)}") from None
        assert image["width"] > 0
        assert image["labels"] or image["colors"], image
    settled_s = time.monotonic() - started
    assert len(set(burst.ids.values())) == len(burst.ids), "two files became one image"
    mongo: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(stack.endpoints.mongo_url)
    try:
        owner_images = mongo["media"]["images"].count_documents({"owner_id": client.user_id, "deleted": False})
    finally:
        mongo.close()
    assert owner_images == len(burst.ids), "an image was stored twice"
    text_ids = {image_id for name, image_id in burst.ids.items() if name.endswith(".png")}
    found = set(client.search_ids("drill"))
    assert text_ids <= found, "OCR text of every document is searchable"
    assert _dead_letters(stack.endpoints.kafka_bootstrap) == dead_before
    # The checker waits for nothing: what the pipeline left behind is what it sees.
    problems = check(stack.endpoints)
    assert problems == [], [str(p) for p in problems]
    return settled_s


def _signed_up(stack: Stack) -> PixtractClient:
    client = PixtractClient(stack.endpoints.ingress_url)
    client.sign_up()
    return client


@pytest.mark.parametrize("service", ["tagging", "ocr", "search", "upload"])
def test_a_service_killed_mid_burst_loses_nothing(faulty: Stack, service: str) -> None:
    client = _signed_up(faulty)
    dead_before = _dead_letters(faulty.endpoints.kafka_bootstrap)
    burst = Burst(faulty.endpoints.ingress_url, str(client.token))

    def kill_and_restart() -> None:
        faulty.stop_service(service, sig=signal.SIGKILL)
        time.sleep(2)
        faulty.start_service(service)

    try:
        burst.run(_files(f"kill-{service}"), after=10, fault=kill_and_restart)
        settled_s = _settled(faulty, client, burst, dead_before)
    finally:
        client.close()
    print(f"kill {service}: answers {dict(burst.statuses)}, settled {settled_s:.1f} s after the burst")


def _readiness(stack: Stack, service: str) -> int:
    try:
        return httpx.get(f"{stack.endpoints.services[service]}/readyz", timeout=15.0).status_code
    except httpx.TransportError:
        return 0


@pytest.mark.parametrize("server", ["kafka", "mongo", "opensearch", "s3"])
def test_a_backing_server_outage_mid_burst_heals_by_itself(faulty: Stack, server: str) -> None:
    client = _signed_up(faulty)
    dead_before = _dead_letters(faulty.endpoints.kafka_bootstrap)
    burst = Burst(faulty.endpoints.ingress_url, str(client.token))
    not_ready: dict[str, int] = {}

    def outage() -> None:
        faulty.stop_server(server)
        deadline = time.monotonic() + 30
        pending = set(NEEDED_BY[server])
        while pending and time.monotonic() < deadline:
            for service in sorted(pending):
                if (status := _readiness(faulty, service)) == 503:
                    not_ready[service] = status
                    pending.discard(service)
            time.sleep(0.5)
        time.sleep(3)  # uploads keep arriving while it is down
        faulty.start_server(server)

    try:
        burst.run(_files(f"down-{server}"), after=10, fault=outage)
        assert set(not_ready) == set(NEEDED_BY[server]), f"reported not ready: {not_ready}"
        # Every answer was an acceptance or a clear "try again": never a 500.
        assert set(burst.statuses) <= {201, 502, 503}, dict(burst.statuses)
        if server in ("mongo", "s3"):
            assert burst.statuses[503] > 0, "uploads during the outage were answered 503"
        for service in ("auth", "upload", "tagging", "ocr", "search"):
            deadline = time.monotonic() + 60
            while _readiness(faulty, service) != 200 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert _readiness(faulty, service) == 200, f"{service} did not become ready again"
        settled_s = _settled(faulty, client, burst, dead_before)
    finally:
        client.close()
    print(
        f"{server} outage: answers {dict(burst.statuses)}, not ready: {sorted(not_ready)},"
        f" settled {settled_s:.1f} s after all were ready again"
    )


def test_poison_events_are_dead_lettered_without_stalling_good_work(faulty: Stack) -> None:
    client = _signed_up(faulty)
    bootstrap = faulty.endpoints.kafka_bootstrap
    dead_before = _dead_letters(bootstrap)
    burst = Burst(faulty.endpoints.ingress_url, str(client.token))
    uploaded = "images.uploaded"
    consumers_of_uploaded = 3  # tagging, ocr and search each dead-letter their copy
    partitions: list[int] = []

    async def poison() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
        await producer.start()
        try:
            partitions.extend(sorted(await producer.partitions_for(uploaded)))
            for partition in partitions:  # bytes no consumer can decode, at the head of every partition
                await producer.send_and_wait(uploaded, b"\xff\x00garbage", key=b"poison", partition=partition)
        finally:
            await producer.stop()

    try:
        burst.run(_files("poison"), after=5, fault=lambda: asyncio.run(poison()))
        # Good images on the same partitions were not held up by the poison before them.
        dead_expected = dict(dead_before)
        dead_expected[f"{uploaded}.dlq"] += len(partitions) * consumers_of_uploaded
        deadline = time.monotonic() + 60
        while _dead_letters(bootstrap) != dead_expected and time.monotonic() < deadline:
            time.sleep(0.5)
        dead_after = _dead_letters(bootstrap)
        # Every group's copy lands in the DLQ; on a stack that just started, a group may begin
        # a partition after the poison (its offset reset), which skips it: never more, never none.
        added = dead_after[f"{uploaded}.dlq"] - dead_before[f"{uploaded}.dlq"]
        assert len(partitions) <= added <= len(partitions) * consumers_of_uploaded, dead_after
        _settled(faulty, client, burst, dead_after)
    finally:
        client.close()
