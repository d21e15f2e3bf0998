"""`python -m pixtract.common.topics create` against a real broker (the lite Kafka, or a container)."""

from __future__ import annotations

import json
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from pixtract.common.config import KafkaSettings
from pixtract.common.topics import TopicSpec, create_topics, main, registry_specs
from pixtract.localstack import InfraEndpoints


async def _partitions(bootstrap: str, names: list[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(names)}
    finally:
        await admin.close()


async def test_creates_missing_topics_and_keeps_existing_ones(lite_servers: InfraEndpoints) -> None:
    settings = KafkaSettings(bootstrap_servers=lite_servers.kafka_bootstrap, enable_idempotence=False)
    run = uuid.uuid4().hex[:8]
    specs = [TopicSpec(f"t{run}.a", 2, 1), TopicSpec(f"t{run}.a.dlq", 3, 24)]

    first = await create_topics(settings, specs, replication_factor=1, timeout_s=30)
    assert sorted(first.created) == sorted(s.name for s in specs)
    assert await _partitions(lite_servers.kafka_bootstrap, [s.name for s in specs]) == {
        f"t{run}.a": 2,
        f"t{run}.a.dlq": 3,
    }

    # Run again, asking for more partitions: nothing is created or altered, the shortfall is reported.
    grown = [TopicSpec(f"t{run}.a", 6, 1), specs[1]]
    second = await create_topics(settings, grown, replication_factor=1, timeout_s=30)
    assert second.created == []
    assert sorted(second.existing) == sorted(s.name for s in specs)
    assert second.fewer_partitions == {f"t{run}.a": (2, 6)}


def test_cli_creates_the_whole_registry(
    lite_servers: InfraEndpoints, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIXTRACT_TOPICS_KAFKA__BOOTSTRAP_SERVERS", lite_servers.kafka_bootstrap)
    assert main(["create", "--replication-factor", "1", "--timeout", "30"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["event"] == "topics_ready"
    # lite_servers created the registry already: the CLI finds every topic and its .dlq twin.
    assert sorted(report["created"] + report["existing"]) == sorted(s.name for s in registry_specs())


def test_cli_fails_with_a_clear_message_when_kafka_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIXTRACT_TOPICS_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    with pytest.raises(SystemExit) as exited:
        main(["create", "--timeout", "1", "images.uploaded:4:168"])
    assert exited.value.code == 1
    # aiokafka logs its connection errors to stderr too; the CLI's own report is the last line.
    error = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert error["event"] == "topics_failed"
    assert "127.0.0.1:1" in error["error"]
