"""The topics CLI's arguments and the Kafka connection options it shares with every service."""

from __future__ import annotations

import ssl

import pytest
from pydantic import SecretStr

from pixtract.common.config import KafkaSettings
from pixtract.common.kafka import kafka_security
from pixtract.common.topics import TopicSpec, registry_specs
from pixtract.events.topics import TOPICS


def test_topic_spec_round_trips() -> None:
    spec = TopicSpec.parse("images.uploaded:4:168")
    assert spec == TopicSpec("images.uploaded", 4, 168)
    assert str(spec) == "images.uploaded:4:168"


@pytest.mark.parametrize("text", ["images.uploaded", "images.uploaded:4", ":4:168", "a:x:1", "a:0:1", "a:1:0"])
def test_topic_spec_refuses_malformed_text(text: str) -> None:
    with pytest.raises(ValueError, match=r"NAME:PARTITIONS:RETENTION_HOURS|at least 1"):
        TopicSpec.parse(text)


def test_registry_specs_cover_every_topic_and_its_dead_letter_twin() -> None:
    names = [s.name for s in registry_specs()]
    assert len(names) == 2 * len(TOPICS)
    for topic in TOPICS.values():
        assert topic.name in names
        assert topic.dlq in names


def test_plaintext_needs_no_tls_context() -> None:
    assert kafka_security(KafkaSettings()) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_gets_a_verifying_tls_context_and_credentials() -> None:
    settings = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="pixtract",
        sasl_password=SecretStr("s3cret"),
    )
    options = kafka_security(settings)
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "pixtract"
    assert options["sasl_plain_password"] == "s3cret"
