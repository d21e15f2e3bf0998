"""Fixtures for every test layer.

- `lite_servers`: S3, Kafka, MongoDB and OpenSearch for integration tests: the PyPI
  stand-ins of the local stack, or real servers in containers with
  PIXTRACT_TEST_BACKEND=containers (needs Docker).
- `stack`: the whole system (servers, services, ingress) for end-to-end tests, or an
  already running deployment named by PIXTRACT_E2E_BASE_URL.
- Tests are marked by their folder (unit, contract, integration, e2e), and unit tests
  get no network sockets.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_socket import disable_socket

from pixtract.localstack import (
    InfraEndpoints,
    Stack,
    StackConfig,
    ensure_buckets,
    ensure_topics,
    s3_client,
)

TESTS_DIR = Path(__file__).resolve().parent
LAYERS = {
    "unit": "fast, in-process, no network",
    "contract": "checks a service against API.md and the event contracts",
    "integration": "talks to real servers (lite stand-ins or containers)",
    "e2e": "drives the whole system through the ingress",
}
DOCKER_MISSING = "PIXTRACT_TEST_BACKEND=containers needs a Docker engine; none is reachable here"


def _layer(item: pytest.Item) -> str | None:
    try:
        relative = item.path.resolve().relative_to(TESTS_DIR)
    except ValueError:
        return None
    top = relative.parts[0] if len(relative.parts) > 1 else None
    return top if top in LAYERS else None


def pytest_configure(config: pytest.Config) -> None:
    for layer, meaning in LAYERS.items():
        config.addinivalue_line("markers", f"{layer}: {meaning}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        layer = _layer(item)
        if layer is not None:
            item.add_marker(getattr(pytest.mark, layer))


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Runs before the item's fixtures, so they cannot open sockets either; pytest-socket's
    # own teardown hook turns sockets back on. Unix sockets stay allowed: every asyncio
    # event loop needs a socketpair.
    if _layer(item) == "unit" and item.get_closest_marker("enable_socket") is None:
        disable_socket(allow_unix_socket=True)


# ----- backing servers -------------------------------------------------------------------


@pytest.fixture(scope="session")
def lite_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfraEndpoints]:
    """Kafka, MongoDB, S3 and OpenSearch for the session, with buckets and topics created."""
    if os.environ.get("PIXTRACT_TEST_BACKEND", "lite") == "containers":
        yield from _container_servers()
        return
    config = StackConfig.for_tests(tmp_path_factory.mktemp("lite-servers"), services=())
    stack = Stack(config)
    try:
        stack.start_infra()
        yield stack.infra_endpoints
    finally:
        stack.stop()


# Images the container backend uses; override one with PIXTRACT_TEST_<NAME>_IMAGE.
CONTAINER_IMAGES = {
    "kafka": "confluentinc/cp-kafka:7.6.0",
    "mongo": "mongo:8.0",
    "opensearch": "opensearchproject/opensearch:2.19.1",
    "minio": "minio/minio:RELEASE.2025-04-22T22-12-26Z",
}
_MINIO_PORT = 9000


def _image(name: str) -> str:
    return os.environ.get(f"PIXTRACT_TEST_{name.upper()}_IMAGE", CONTAINER_IMAGES[name])


def _docker_reachable() -> bool:
    # testcontainers' own client: it finds the engine the same way the containers will.
    from testcontainers.core.docker_client import DockerClient

    try:
        return bool(DockerClient(timeout=5).client.ping())
    except Exception:
        return False


def _container_servers() -> Iterator[InfraEndpoints]:
    if not _docker_reachable():
        pytest.skip(DOCKER_MISSING)
    # Imported here: testcontainers pulls in the Docker SDK, which the lite path never needs.
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.mongodb import MongoDbContainer
    from testcontainers.community.opensearch import OpenSearchContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HttpWaitStrategy

    access_key, secret_key, bucket = "pixtract", "pixtract-test-secret", "pixtract-media"
    with ExitStack() as running:
        kafka = running.enter_context(KafkaContainer(_image("kafka")).with_kraft())
        mongo = running.enter_context(MongoDbContainer(_image("mongo")))
        opensearch = running.enter_context(
            OpenSearchContainer(_image("opensearch"), initial_admin_password="Pixtract-test-0!")
        )
        # testcontainers' MinioContainer needs the `minio` client package, which Pixtract
        # does not use; a plain container with the same wait is enough.
        minio = running.enter_context(
            DockerContainer(_image("minio"), _wait_strategy=HttpWaitStrategy(_MINIO_PORT, "/minio/health/live"))
            .with_exposed_ports(_MINIO_PORT)
            .with_env("MINIO_ROOT_USER", access_key)
            .with_env("MINIO_ROOT_PASSWORD", secret_key)
            .with_command(f"server /data --address :{_MINIO_PORT}")
        )
        os_config = opensearch.get_config()
        endpoints = InfraEndpoints(
            kafka_bootstrap=kafka.get_bootstrap_server(),
            # A standalone mongod, not a replica set: no transactions or change streams there.
            mongo_url=mongo.get_connection_url(),
            s3_endpoint=f"http://{minio.get_container_host_ip()}:{minio.get_exposed_port(_MINIO_PORT)}",
            s3_access_key_id=access_key,
            s3_secret_access_key=secret_key,
            s3_region="us-east-1",
            s3_bucket=bucket,
            opensearch_url=f"http://{os_config['host']}:{os_config['port']}",
        )
        ensure_buckets(s3_client(endpoints.s3_endpoint, access_key, secret_key, endpoints.s3_region), [bucket])
        ensure_topics(endpoints.kafka_bootstrap, timeout=60.0)
        yield endpoints


# ----- the whole system -------------------------------------------------------------------


@dataclass(frozen=True)
class RunningSystem:
    """What e2e tests drive: `base_url` of the ingress, and `handle`, the Stack, when this
    session started it (None against PIXTRACT_E2E_BASE_URL): it stops and starts services."""

    base_url: str
    handle: Stack | None


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    base_url = os.environ.get("PIXTRACT_E2E_BASE_URL")
    if base_url:
        yield RunningSystem(base_url=base_url.rstrip("/"), handle=None)
        return
    local = Stack(StackConfig.for_tests(tmp_path_factory.mktemp("stack")))
    try:
        local.start_infra()
        local.start_services()
        local.start_ingress()
        yield RunningSystem(base_url=local.endpoints.ingress_url, handle=local)
    finally:
        local.stop()
