"""The local stack's servers answer like the real ones, and its launcher guards itself."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pymongo
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from botocore.exceptions import ClientError
from opensearchpy import OpenSearch

from pixtract.events.topics import TOPICS
from pixtract.localstack import (
    SERVICES,
    ComponentFailed,
    InfraEndpoints,
    KafkaStorage,
    Ports,
    Stack,
    StackAlreadyRunning,
    StackConfig,
    StackError,
    s3_client,
)
from pixtract.localstack.process import process_start_ticks

pytestmark = pytest.mark.integration


# ----- the servers ------------------------------------------------------------------------


def test_s3_round_trip_with_the_credentials(lite_servers: InfraEndpoints) -> None:
    e = lite_servers
    s3 = s3_client(e.s3_endpoint, e.s3_access_key_id, e.s3_secret_access_key, e.s3_region)
    key = f"test/{uuid.uuid4()}.bin"
    body = os.urandom(256 * 1024)
    s3.put_object(Bucket=e.s3_bucket, Key=key, Body=body, ContentType="application/octet-stream")
    got = s3.get_object(Bucket=e.s3_bucket, Key=key)
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/octet-stream"
    s3.delete_object(Bucket=e.s3_bucket, Key=key)


@pytest.mark.parametrize(
    ("access_key", "secret"),
    [("pixtract", "not-the-secret"), ("somebody-else", "pixtract-dev-secret")],
    ids=["wrong-secret", "unknown-key"],
)
def test_s3_refuses_wrong_credentials(lite_servers: InfraEndpoints, access_key: str, secret: str) -> None:
    e = lite_servers
    s3 = s3_client(e.s3_endpoint, access_key, secret, e.s3_region)
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=e.s3_bucket, Key="intruder.txt", Body=b"x")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as refused:
        s3.list_objects_v2(Bucket=e.s3_bucket)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_s3_refuses_unsigned_requests(lite_servers: InfraEndpoints) -> None:
    response = httpx.get(f"{lite_servers.s3_endpoint}/{lite_servers.s3_bucket}?list-type=2", trust_env=False)
    assert response.status_code == 403


def test_kafka_has_every_registry_topic_and_its_dlq(lite_servers: InfraEndpoints) -> None:
    async def describe() -> dict[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=lite_servers.kafka_bootstrap)
        await admin.start()
        try:
            names = [n for t in TOPICS.values() for n in (t.name, t.dlq)]
            described = await admin.describe_topics(names)
            return {d["topic"]: len(d["partitions"]) for d in described if d["error_code"] == 0}
        finally:
            await admin.close()

    partitions = asyncio.run(describe())
    for topic in TOPICS.values():
        assert partitions.get(topic.name) == topic.partitions, topic.name
        assert partitions.get(topic.dlq) == topic.partitions, topic.dlq


def test_kafka_produce_and_consume_with_key_and_headers(lite_servers: InfraEndpoints) -> None:
    topic = f"test.localstack.{uuid.uuid4().hex[:8]}"
    headers = [("event-id", b"e-1"), ("event-type", b"test.Ping"), ("schema-version", b"1")]

    async def round_trip() -> Any:
        producer = AIOKafkaProducer(bootstrap_servers=lite_servers.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello", key=b"image-1", headers=headers)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=lite_servers.kafka_bootstrap,
            group_id=f"test-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
        )
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), timeout=30)
            await consumer.commit()
            return message
        finally:
            await consumer.stop()

    message = asyncio.run(round_trip())
    assert (message.key, message.value) == (b"image-1", b"hello")
    assert list(message.headers) == headers


def test_mongo_insert_and_find(lite_servers: InfraEndpoints) -> None:
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        lite_servers.mongo_url, serverSelectionTimeoutMS=5000
    )
    try:
        images = client["localstack_test"][f"images_{uuid.uuid4().hex[:8]}"]
        images.create_index([("owner", 1), ("sha256", 1)], unique=True)
        images.insert_one({"_id": "i1", "owner": "u1", "sha256": "ab", "labels": ["cat"]})
        assert images.find_one({"labels": "cat"}) == {"_id": "i1", "owner": "u1", "sha256": "ab", "labels": ["cat"]}
        with pytest.raises(pymongo.errors.DuplicateKeyError):
            images.insert_one({"_id": "i2", "owner": "u1", "sha256": "ab"})
    finally:
        client.close()


def test_opensearch_index_and_search(lite_servers: InfraEndpoints) -> None:
    client = OpenSearch(hosts=[lite_servers.opensearch_url])
    index = f"localstack-test-{uuid.uuid4().hex[:8]}"
    try:
        # The english analyser stems, so "receipt" finds "receipts" (the standard one would not).
        mapping = {"properties": {"owner": {"type": "keyword"}, "text": {"type": "text", "analyzer": "english"}}}
        client.indices.create(index=index, body={"mappings": mapping})
        client.index(index=index, id="i1", body={"owner": "u1", "text": "Grocery receipts from March"}, refresh=True)
        client.index(index=index, id="i2", body={"owner": "u1", "text": "A cat on a sofa"}, refresh=True)
        found = client.search(index=index, body={"query": {"match": {"text": "receipt"}}})
        assert [hit["_id"] for hit in found["hits"]["hits"]] == ["i1"]
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)
        client.close()


def test_kafka_on_s3_keeps_its_log_apart_from_the_media_store(tmp_path: Path) -> None:
    """Tansu loses track of its log when its storage fails under it (holes, reset offsets), so
    Kafka keeps its log on a SeaweedFS of its own: an outage of the media store leaves it
    untouched, and a broker restart still finds every message."""
    config = StackConfig.for_tests(tmp_path, services=())
    config.kafka_storage = KafkaStorage.S3
    topic = "localstack.isolation"

    async def produce(bootstrap: str, value: bytes) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, request_timeout_ms=10_000)
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, partition=0)
        finally:
            await producer.stop()

    async def consume_all(bootstrap: str) -> list[bytes]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            partition = TopicPartition(topic, 0)
            consumer.assign([partition])
            await consumer.seek_to_beginning(partition)
            values: list[bytes] = []
            deadline = time.monotonic() + 20
            while len(values) < 2 and time.monotonic() < deadline:
                batches = await consumer.getmany(partition, timeout_ms=1_000)
                values += [record.value or b"" for record in batches.get(partition, [])]
            return values
        finally:
            await consumer.stop()

    with Stack(config) as stack:
        stack.start_infra()
        bootstrap = stack.endpoints.kafka_bootstrap
        asyncio.run(produce(bootstrap, b"before"))
        stack.stop_server("s3")
        asyncio.run(produce(bootstrap, b"while the media store is down"))
        stack.start_server("s3")
        stack.stop_server("kafka")
        stack.start_server("kafka")
        assert asyncio.run(consume_all(bootstrap)) == [b"before", b"while the media store is down"]
        media = s3_client(
            stack.endpoints.s3_endpoint, config.s3_access_key_id, config.s3_secret_access_key, config.s3_region
        )
        assert config.kafka_bucket not in {bucket["Name"] for bucket in media.list_buckets()["Buckets"]}


# ----- the ingress, in front of stand-in services --------------------------------------------


class _Echo(BaseHTTPRequestHandler):
    """Answers any request with what it received, so a test can see what Caddy forwarded."""

    service = "?"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = 0
        while received < length:
            chunk = self.rfile.read(min(1 << 20, length - received))
            if not chunk:
                break
            received += len(chunk)
        body = json.dumps(
            {
                "service": self.service,
                "path": self.path,
                "xff": self.headers.get("X-Forwarded-For"),
                "received": received,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815 - the names http.server calls

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def ingress(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, ThreadingHTTPServer]]]:
    config = StackConfig.for_tests(tmp_path_factory.mktemp("ingress"))
    config.web_dist = config.data_dir / "dist"
    (config.web_dist / "assets").mkdir(parents=True)
    (config.web_dist / "index.html").write_text("<!doctype html><title>gallery</title>")
    (config.web_dist / "assets" / "app.js").write_text("console.log('gallery')")
    stack = Stack(config)
    echoes: dict[str, ThreadingHTTPServer] = {}
    try:
        for name in SERVICES:
            handler = type(f"Echo_{name}", (_Echo,), {"service": name})
            server = ThreadingHTTPServer(("127.0.0.1", getattr(config.ports, name)), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            echoes[name] = server
        stack.start_ingress()
        yield stack, echoes
    finally:
        stack.stop()
        for server in echoes.values():
            server.shutdown()
            server.server_close()


def _raw_get(port: int, target: str) -> tuple[int, bytes]:
    """A GET with the target sent byte for byte (httpx would normalise dot segments)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/images", "upload"),
        ("/api/v1/images/abc?size=256", "upload"),
        ("/api/v1/uploads/u1", "upload"),
        ("/api/v1/auth/token", "auth"),
        ("/.well-known/jwks.json", "auth"),
        ("/api/v1/categories", "tagging"),
        ("/api/v1/search?q=cat", "search"),
    ],
)
def test_ingress_routes_public_paths(ingress: tuple[Stack, Any], path: str, service: str) -> None:
    stack, _ = ingress
    # A client-supplied X-Forwarded-For is not trusted: Caddy writes the real peer.
    response = httpx.get(stack.endpoints.ingress_url + path, headers={"X-Forwarded-For": "6.6.6.6"})
    assert response.status_code == 200
    seen = response.json()
    assert (seen["service"], seen["path"]) == (service, path)
    assert seen["xff"] == "127.0.0.1"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/imagesX",
        "/internal/v1/api-keys/introspect",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/api/v2/images",
        "/INTERNAL/v1/x",
    ],
)
def test_ingress_hides_other_paths(ingress: tuple[Stack, Any], path: str) -> None:
    stack, _ = ingress
    response = httpx.get(stack.endpoints.ingress_url + path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "target",
    ["/api/v1/images/../../internal/v1/api-keys/introspect", "/api/v1/images/%2e%2e/%2e%2e/internal/v1/x"],
)
def test_dot_segments_do_not_reach_internal_paths(ingress: tuple[Stack, Any], target: str) -> None:
    stack, _ = ingress
    status, body = _raw_get(stack.config.ports.ingress, target)
    if status == 200:
        # Forwarded as written: the service sees a path under its prefix, never /internal.
        assert json.loads(body)["path"].startswith("/api/v1/images/")
    else:
        assert status in (400, 404)


def test_ingress_passes_a_large_upload_whole(ingress: tuple[Stack, Any]) -> None:
    stack, _ = ingress
    size = 48 * 1024 * 1024
    response = httpx.post(stack.endpoints.ingress_url + "/api/v1/images", content=b"\0" * size, timeout=60)
    assert response.status_code == 200
    assert response.json()["received"] == size


def test_ingress_serves_the_built_gallery(ingress: tuple[Stack, Any]) -> None:
    stack, _ = ingress
    base = stack.endpoints.ingress_url
    assert "<title>gallery</title>" in httpx.get(base + "/").text
    asset = httpx.get(base + "/assets/app.js")
    assert (asset.status_code, asset.text) == (200, "console.log('gallery')")
    # The gallery's own routes load its page; the API's unknown paths stay 404.
    assert "<title>gallery</title>" in httpx.get(base + "/albums/2024").text
    assert httpx.get(base + "/api/v1/nothing").status_code == 404


def test_a_service_that_is_down_answers_502_problem(ingress: tuple[Stack, dict[str, ThreadingHTTPServer]]) -> None:
    stack, echoes = ingress
    search = echoes.pop("search")
    search.shutdown()
    search.server_close()
    response = httpx.get(stack.endpoints.ingress_url + "/api/v1/search?q=x")
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 502


# ----- the launcher, without servers ----------------------------------------------------------


def test_a_second_stack_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    first = Stack(StackConfig.for_tests(tmp_path))
    second = Stack(StackConfig.for_tests(tmp_path))
    first.acquire_lock()
    try:
        with pytest.raises(StackAlreadyRunning, match=f"pid {os.getpid()}"):
            second.start_infra()
        # Refused before anything started.
        assert second.processes == {}
        assert not (tmp_path / "logs").exists()
    finally:
        first.stop()
    second.acquire_lock()
    second.stop()
    assert not (tmp_path / "localstack.lock").exists()


def test_a_lock_left_by_a_dead_run_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock = tmp_path / "localstack.lock"
    lock.write_text(json.dumps({"pid": int(dead.stdout), "start_ticks": 1, "started_at": "yesterday"}))
    stack = Stack(StackConfig.for_tests(tmp_path))
    stack.acquire_lock()
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    stack.stop()
    # A live pid with another start time is a recycled pid, not the old run.
    lock.write_text(
        json.dumps(
            {"pid": os.getpid(), "start_ticks": (process_start_ticks(os.getpid()) or 0) + 1, "started_at": "yesterday"}
        )
    )
    stack.acquire_lock()
    stack.stop()


def test_cli_up_refuses_to_start_beside_a_running_stack(tmp_path: Path) -> None:
    holder = Stack(StackConfig.for_tests(tmp_path))
    holder.acquire_lock()
    try:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "pixtract.localstack", "--data-dir", str(tmp_path), "up"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert "already runs" in result.stderr
        assert time.monotonic() - started < 30
        assert not (tmp_path / "logs").exists()
        status = subprocess.run(
            [sys.executable, "-m", "pixtract.localstack", "--data-dir", str(tmp_path), "status"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0
        assert f"pid {os.getpid()}" in status.stdout
    finally:
        holder.stop()
    status = subprocess.run(
        [sys.executable, "-m", "pixtract.localstack", "--data-dir", str(tmp_path), "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 3
    assert "not running" in status.stdout


def test_ports_come_from_the_environment() -> None:
    ports = Ports.from_env({"PIXTRACT_PORT": "9080", "PIXTRACT_MONGO_PORT": "27018", "PIXTRACT_UPLOAD_PORT": ""})
    assert (ports.ingress, ports.mongo, ports.upload) == (9080, 27018, 8102)
    with pytest.raises(StackError, match="not a port"):
        Ports.from_env({"PIXTRACT_KAFKA_PORT": "kafka"})
    # S3's implicit gRPC port is its HTTP port + 10000.
    with pytest.raises(StackError, match="both want port 18333"):
        Ports.from_env({"PIXTRACT_KAFKA_PORT": "18333"})


def test_each_service_gets_its_settings(tmp_path: Path) -> None:
    config = StackConfig.for_tests(tmp_path)
    config.service_extra_env = {"ocr": {"PIXTRACT_OCR_LOG_LEVEL": "DEBUG"}}
    stack = Stack(config)
    e, p = stack.endpoints, config.ports
    upload = stack.service_env("upload")
    assert upload["PIXTRACT_UPLOAD_PORT"] == str(p.upload)
    assert upload["PIXTRACT_UPLOAD_HOST"] == "127.0.0.1"
    assert upload["PIXTRACT_UPLOAD_MONGO__DATABASE"] == "media"
    assert upload["PIXTRACT_UPLOAD_MONGO__URL"] == e.mongo_url
    assert upload["PIXTRACT_UPLOAD_KAFKA__BOOTSTRAP_SERVERS"] == e.kafka_bootstrap
    assert upload["PIXTRACT_UPLOAD_KAFKA__ENABLE_IDEMPOTENCE"] == "false"
    assert upload["PIXTRACT_UPLOAD_S3__BUCKET"] == "pixtract-media"
    assert upload["PIXTRACT_UPLOAD_AUTH__JWKS_URL"] == f"http://127.0.0.1:{p.auth}/.well-known/jwks.json"
    assert "OMP_NUM_THREADS" not in upload
    assert stack.service_env("auth")["PIXTRACT_AUTH_SIGNING_KEY_DIR"] == str(tmp_path.resolve() / "auth" / "keys")
    assert stack.service_env("auth")["PIXTRACT_AUTH_MONGO__DATABASE"] == "auth"
    assert stack.service_env("search")["PIXTRACT_SEARCH_MONGO__DATABASE"] == "pixtract"
    ocr = stack.service_env("ocr")
    assert (ocr["OMP_NUM_THREADS"], ocr["PIXTRACT_OCR_LOG_LEVEL"]) == ("1", "DEBUG")
    assert stack.service_env("tagging")["OMP_NUM_THREADS"] == "1"


# ----- service lifecycle, with stand-in services ------------------------------------------

_FAKE_SERVICE = """
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

name = __spec__.name.split(".")[1]
prefix = f"PIXTRACT_{name.upper()}_"
if os.environ.get(prefix + "FAIL"):
    print(f"{name}: cannot start, as asked", flush=True)
    sys.exit(3)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path == "/readyz"
        body = (name if ok else "no").encode()
        self.send_response(200 if ok else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


print(f"{name} serving, mongo db {os.environ[prefix + 'MONGO__DATABASE']}", flush=True)
ThreadingHTTPServer((os.environ[prefix + "HOST"], int(os.environ[prefix + "PORT"])), Handler).serve_forever()
"""


@pytest.fixture
def fake_services(tmp_path: Path) -> Path:
    """A PYTHONPATH on which `python -m pixtract.<service>` runs a stand-in answering /readyz."""
    root = tmp_path / "fake"
    for name in SERVICES:
        package = root / "pixtract" / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "__main__.py").write_text(_FAKE_SERVICE)
    return root


def test_services_start_stop_and_restart(tmp_path: Path, fake_services: Path) -> None:
    config = StackConfig.for_tests(tmp_path / "data", services=("auth", "upload"))
    config.service_extra_env = {name: {"PYTHONPATH": str(fake_services)} for name in SERVICES}
    stack = Stack(config)
    try:
        stack.start_services()
        urls = stack.endpoints.services
        assert httpx.get(urls["upload"] + "/readyz").text == "upload"
        assert "upload serving, mongo db media" in (tmp_path / "data" / "logs" / "upload.log").read_text()
        assert (tmp_path / "data" / "auth" / "keys").is_dir()

        assert stack.stop_service("upload", sig=signal.SIGKILL) == -signal.SIGKILL
        with pytest.raises(httpx.ConnectError):
            httpx.get(urls["upload"] + "/readyz")
        stack.start_service("upload")
        assert httpx.get(urls["upload"] + "/readyz").status_code == 200
        with pytest.raises(StackError, match="already runs"):
            stack.start_service("upload")
        # One log per service, kept across restarts.
        assert (tmp_path / "data" / "logs" / "upload.log").read_text().count("starting:") == 2
    finally:
        stack.stop()
    assert stack.components() == []


def test_a_second_replica_runs_beside_the_first_on_its_own_port_and_log(tmp_path: Path, fake_services: Path) -> None:
    config = StackConfig.for_tests(tmp_path / "data", services=("tagging",))
    config.service_extra_env = {"tagging": {"PYTHONPATH": str(fake_services)}}
    stack = Stack(config)
    try:
        stack.start_services()
        stack.start_service("tagging", replica=2)
        first, second = stack.service_url("tagging"), stack.service_url("tagging", replica=2)
        assert first == stack.endpoints.services["tagging"] != second
        assert httpx.get(second + "/readyz").text == "tagging"
        # Same settings (so the same consumer groups), another port.
        env = stack.service_env("tagging", replica=2)
        assert env["PIXTRACT_TAGGING_PORT"] == second.rsplit(":", 1)[1]
        assert {k: v for k, v in env.items() if k != "PIXTRACT_TAGGING_PORT"} == {
            k: v for k, v in stack.service_env("tagging").items() if k != "PIXTRACT_TAGGING_PORT"
        }
        assert "tagging serving" in (tmp_path / "data" / "logs" / "tagging-2.log").read_text()
        assert [(c.name, c.url) for c in stack.components() if c.name.startswith("tagging")] == [
            ("tagging", first),
            ("tagging-2", second),
        ]
        with pytest.raises(StackError, match="tagging-2 already runs"):
            stack.start_service("tagging", replica=2)
        assert stack.stop_service("tagging", replica=2) == -signal.SIGTERM
        assert httpx.get(first + "/readyz").status_code == 200
        stack.start_service("tagging", replica=2)
        assert stack.service_url("tagging", replica=2) == second
    finally:
        stack.stop()
    assert stack.components() == []


def test_a_service_that_dies_while_starting_fails_with_its_log(tmp_path: Path, fake_services: Path) -> None:
    config = StackConfig.for_tests(tmp_path, services=("search",))
    config.service_extra_env = {"search": {"PYTHONPATH": str(fake_services), "PIXTRACT_SEARCH_FAIL": "1"}}
    stack = Stack(config)
    try:
        with pytest.raises(ComponentFailed) as failed:
            stack.start_services()
    finally:
        stack.stop()
    assert failed.value.component == "search"
    assert "exited with code 3" in failed.value.reason
    assert "cannot start, as asked" in failed.value.log_tail
