"""`python -m pixtract.common.topics create|dlq`: create Pixtract's Kafka topics; inspect and re-drive DLQs.

`dlq list|show|redrive` works on the `.dlq` twins (see pixtract.common.dlq).

The Helm chart's topics Job runs this before every install and upgrade; it passes each
topic of `proto/topics.yaml` (and its `.dlq` twin) as `NAME:PARTITIONS:RETENTION_HOURS`.
Without topic arguments it creates the registry baked into this image. Existing topics are
kept as they are: a topic with fewer partitions than asked is reported, never altered
(growing partitions moves keys to other partitions, an operator's decision).

Connection settings come from `PIXTRACT_TOPICS_KAFKA__*`, the same fields every service reads
(`BOOTSTRAP_SERVERS`, `SECURITY_PROTOCOL`, `SASL_MECHANISM`, `SASL_USERNAME`, `SASL_PASSWORD`, ...);
`--env-prefix PIXTRACT_SEARCH_` reads a service's own instead (inside its pod).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from pydantic_settings import BaseSettings, SettingsConfigDict

from pixtract.common import dlq
from pixtract.common.config import KafkaSettings
from pixtract.common.dependencies import run_command
from pixtract.common.kafka import kafka_security
from pixtract.events.topics import TOPICS

# Create-topics answers that mean "nothing to do".
_OK = 0
_TOPIC_ALREADY_EXISTS = 36
MS_PER_HOUR = 3_600_000


class TopicsError(Exception):
    """The topics could not be created; the message says why."""


ENV_PREFIX = "PIXTRACT_TOPICS_"


class TopicsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore")

    kafka: KafkaSettings = KafkaSettings()


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_hours: int

    @classmethod
    def parse(cls, text: str) -> TopicSpec:
        """`NAME:PARTITIONS:RETENTION_HOURS`, e.g. `images.uploaded:4:168`."""
        name, sep, rest = text.partition(":")
        partitions, sep2, hours = rest.partition(":")
        if not (name and sep and sep2 and partitions.isdigit() and hours.isdigit()):
            raise ValueError(f"expected NAME:PARTITIONS:RETENTION_HOURS, got {text!r}")
        if int(partitions) < 1 or int(hours) < 1:
            raise ValueError(f"{text!r}: partitions and retention hours must be at least 1")
        return cls(name=name, partitions=int(partitions), retention_hours=int(hours))

    def __str__(self) -> str:
        return f"{self.name}:{self.partitions}:{self.retention_hours}"


def registry_specs() -> list[TopicSpec]:
    """Every topic of the registry and its `.dlq` twin (same partitions and retention)."""
    specs: list[TopicSpec] = []
    for topic in TOPICS.values():
        specs.append(TopicSpec(topic.name, topic.partitions, topic.retention_hours))
        specs.append(TopicSpec(topic.dlq, topic.partitions, topic.retention_hours))
    return specs


@dataclass
class TopicsReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    # name -> (partitions it has, partitions asked for)
    fewer_partitions: dict[str, tuple[int, int]] = field(default_factory=dict)


async def _create_once(
    admin: AIOKafkaAdminClient,
    specs: Sequence[TopicSpec],
    replication_factor: int,
    configs: dict[str, str],
) -> TopicsReport:
    report = TopicsReport()
    present = set(await admin.list_topics())
    missing = [spec for spec in specs if spec.name not in present]
    if missing:
        response = await admin.create_topics(
            [
                NewTopic(
                    name=spec.name,
                    num_partitions=spec.partitions,
                    replication_factor=replication_factor,
                    topic_configs={"retention.ms": str(spec.retention_hours * MS_PER_HOUR), **configs},
                )
                for spec in missing
            ]
        )
        failures = [
            f"{name}: error {code} {message or ''}".strip()
            for name, code, message, *_ in _topic_errors(response)
            if code not in (_OK, _TOPIC_ALREADY_EXISTS)
        ]
        if failures:
            raise TopicsError("creating topics failed: " + "; ".join(failures))
        report.created = [spec.name for spec in missing]
    wanted = {spec.name: spec.partitions for spec in specs if spec.name in present}
    if wanted:
        for described in await admin.describe_topics(sorted(wanted)):
            name = described["topic"]
            have = len(described["partitions"])
            report.existing.append(name)
            if have < wanted[name]:
                report.fewer_partitions[name] = (have, wanted[name])
    return report


def _topic_errors(response: object) -> Iterable[tuple[str, int, str | None]]:
    # (name, code) in version 0 answers, (name, code, message) from version 1 on.
    for entry in getattr(response, "topic_errors", []):
        name, code, *rest = entry
        yield name, code, (rest[0] if rest else None)


async def create_topics(
    settings: KafkaSettings,
    specs: Sequence[TopicSpec],
    *,
    replication_factor: int,
    configs: dict[str, str] | None = None,
    timeout_s: float = 120.0,
) -> TopicsReport:
    """Create the missing topics, waiting up to `timeout_s` for the cluster to answer."""
    deadline = time.monotonic() + timeout_s
    delay = 0.5
    while True:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            client_id="pixtract-topics",
            request_timeout_ms=15_000,
            **kafka_security(settings),
        )
        try:
            await admin.start()
            return await _create_once(admin, specs, replication_factor, configs or {})
        except KafkaError as exc:
            # A cluster still starting (or a Job started before the network policy allowed it).
            if time.monotonic() + delay > deadline:
                raise TopicsError(f"Kafka at {settings.bootstrap_servers} did not answer: {exc!r}") from exc
        finally:
            await admin.close()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 10.0)


def _config_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not (key and sep):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pixtract.common.topics", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--env-prefix",
        default=ENV_PREFIX,
        help=f"read the Kafka settings from <PREFIX>KAFKA__* (default {ENV_PREFIX}; e.g. PIXTRACT_SEARCH_)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create missing topics; existing ones are kept")
    create.add_argument(
        "topics",
        nargs="*",
        type=TopicSpec.parse,
        metavar="NAME:PARTITIONS:RETENTION_HOURS",
        help="topics to create (default: the registry in this image and every .dlq twin)",
    )
    create.add_argument("--replication-factor", type=int, default=3, help="replicas of each new topic (default 3)")
    create.add_argument(
        "--config",
        type=_config_pair,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a topic config for every new topic, e.g. min.insync.replicas=2 (repeatable)",
    )
    create.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the cluster (default 120)")
    dlq.add_commands(commands)
    args = parser.parse_args(argv)

    settings = TopicsSettings(_env_prefix=args.env_prefix).kafka  # type: ignore[call-arg]
    if args.command == "dlq":
        return dlq.run(args, settings)
    specs: list[TopicSpec] = args.topics or registry_specs()
    report = run_command(
        "topics",
        create_topics(
            settings,
            specs,
            replication_factor=args.replication_factor,
            configs=dict(args.config),
            timeout_s=args.timeout,
        ),
        refusals=(TopicsError,),
    )
    print(
        json.dumps(
            {
                "event": "topics_ready",
                "created": report.created,
                "existing": report.existing,
                "fewer_partitions_than_asked": {
                    k: {"has": h, "asked": a} for k, (h, a) in report.fewer_partitions.items()
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
