"""Readiness probes and the buckets and topics every Pixtract deployment needs.

Written against the wire protocols only, so they also serve real servers (testcontainers).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx
import pymongo

from pixtract.events.topics import TOPICS, Topic
from pixtract.localstack.config import StackError

# Kafka error codes a create-topics answer may carry that mean "nothing to do".
_KAFKA_OK = 0
_KAFKA_TOPIC_ALREADY_EXISTS = 36


class NotReady(Exception):
    """A probe's answer: not yet, try again."""


def poll_until(
    probe: Callable[[], Any],
    *,
    what: str,
    timeout: float,
    alive: Callable[[], bool] = lambda: True,
    interval: float = 0.05,
) -> Any:
    """Call `probe` until it returns without raising NotReady/OSError; fail fast if the server died."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        if not alive():
            raise StackError(f"{what}: the process exited while starting")
        try:
            return probe()
        except (NotReady, OSError, httpx.HTTPError, pymongo.errors.PyMongoError) as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise StackError(f"{what}: not ready after {timeout:.0f} s (last error: {last})")
        time.sleep(interval)
        # Back off gently: a slow server should not be hammered 20 times a second for two minutes.
        interval = min(interval * 1.5, 0.5)


def http_status(url: str, timeout: float = 2.0) -> int:
    """Status code of a GET, for probes: any answer means the server is listening."""
    with httpx.Client(timeout=timeout, trust_env=False) as client:
        return client.get(url).status_code


def tcp_connect(host: str, port: int, timeout: float = 1.0) -> None:
    with socket.create_connection((host, port), timeout=timeout):
        pass


def mongo_ping(url: str, timeout: float = 2.0) -> None:
    ms = int(timeout * 1000)
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        client.admin.command("ping")
    finally:
        client.close()


def s3_client(endpoint: str, access_key_id: str, secret_access_key: str, region: str) -> Any:
    """A boto3 S3 client for the endpoint, path-style as SeaweedFS and MinIO want."""
    # boto3 takes about half a second to import: only pay for it when S3 is used.
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=region,
        config=Config(
            s3={"addressing_style": "path"},
            connect_timeout=2,
            read_timeout=10,
            retries={"max_attempts": 1},
        ),
    )


def ensure_buckets(client: Any, buckets: Iterable[str], *, timeout: float = 30.0) -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    def create(bucket: str) -> None:
        try:
            client.head_bucket(Bucket=bucket)
            return
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in {"404", "NoSuchBucket", "NotFound"}:
                # 403 is a real answer (bad credentials); 5xx while the filer warms up is not.
                if code.startswith("5"):
                    raise NotReady(str(exc)) from exc
                raise StackError(f"S3 bucket {bucket}: {exc}") from exc
        except EndpointConnectionError as exc:
            raise NotReady(str(exc)) from exc
        try:
            client.create_bucket(Bucket=bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                return
            raise NotReady(str(exc)) from exc

    for bucket in buckets:
        poll_until(partial(create, bucket), what=f"S3 bucket {bucket}", timeout=timeout)


def check_old_objects_readable(client: Any, bucket: str, key: str) -> None:
    """Read back the object the previous start wrote, then write it for the next start.

    After a restart SeaweedFS answers S3 requests before its filer has learnt where the
    volumes are: for a few seconds reading an existing object fails with 500 InternalError
    ("volume N not found"). Reading one old object proves the lookup works.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        # First start on this data: nothing to read back yet.
        if str(exc.response.get("Error", {}).get("Code", "")) not in {"NoSuchKey", "404"}:
            raise NotReady(f"reading s3://{bucket}/{key}: {exc}") from exc
    except BotoCoreError as exc:
        raise NotReady(f"reading s3://{bucket}/{key}: {exc}") from exc
    try:
        client.put_object(Bucket=bucket, Key=key, Body=b"written by pixtract.localstack at start\n")
    except (ClientError, BotoCoreError) as exc:
        raise NotReady(f"writing s3://{bucket}/{key}: {exc}") from exc


def all_topic_names(topics: Iterable[Topic[Any]] | None = None) -> dict[str, int]:
    """Every topic of the registry and its dead-letter twin -> partition count."""
    out: dict[str, int] = {}
    for topic in TOPICS.values() if topics is None else topics:
        out[topic.name] = topic.partitions
        out[topic.dlq] = topic.partitions
    return out


async def _create_topics(bootstrap: str, wanted: dict[str, int], request_timeout_ms: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=request_timeout_ms)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name=name, num_partitions=partitions, replication_factor=1)
            for name, partitions in wanted.items()
            if name not in existing
        ]
        response = await admin.create_topics(missing) if missing else None
    except KafkaError as exc:
        raise NotReady(f"Kafka at {bootstrap}: {exc!r}") from exc
    finally:
        await admin.close()
    if response is None:
        return
    failures = [
        f"{name}: error {code}"
        for name, code, *_ in response.topic_errors
        if code not in (_KAFKA_OK, _KAFKA_TOPIC_ALREADY_EXISTS)
    ]
    if failures:
        raise StackError("creating Kafka topics failed: " + "; ".join(failures))


def _run_coroutine(make: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """asyncio.run, also from code that already runs inside an event loop (async fixtures)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(make())
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(lambda: asyncio.run(make())).result()


def ensure_topics(
    bootstrap: str,
    topics: Iterable[Topic[Any]] | None = None,
    *,
    timeout: float = 30.0,
    alive: Callable[[], bool] = lambda: True,
) -> list[str]:
    """Create the registry's topics and their `.dlq` twins (existing ones are kept). Returns the names."""
    wanted = all_topic_names(topics)
    poll_until(
        lambda: _run_coroutine(lambda: _create_topics(bootstrap, wanted, request_timeout_ms=5000)),
        what=f"Kafka topics at {bootstrap}",
        timeout=timeout,
        alive=alive,
        interval=0.1,
    )
    return sorted(wanted)
