"""Event contracts: generated code matches proto/, every topic has golden examples that round-trip."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format

from pixtract.events.topics import TOPICS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "proto" / "examples"
SERVICES = {"auth", "upload", "tagging", "ocr", "search"}


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("proto_generate", ROOT / "proto" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_code_matches_proto() -> None:
    problems = _load_generator().check()
    assert problems == [], f"run `make proto`: {problems}"


def test_registry_module_matches_topics_yaml() -> None:
    registry = yaml.safe_load((ROOT / "proto" / "topics.yaml").read_text())["topics"]
    assert [t["name"] for t in registry] == list(TOPICS)
    for entry in registry:
        topic = TOPICS[entry["name"]]
        assert topic.message_type.DESCRIPTOR.full_name == entry["message"]
        assert set(topic.producers) | set(topic.consumers) <= SERVICES
        assert topic.key in {f.name for f in topic.message_type.DESCRIPTOR.fields}, "the key must be a message field"
        assert topic.partitions >= 1
        assert topic.dlq == f"{topic.name}.dlq"


@pytest.mark.parametrize("topic_name", list(TOPICS))
def test_every_topic_has_golden_examples(topic_name: str) -> None:
    path = EXAMPLES / f"{topic_name}.json"
    assert path.exists(), f"add golden examples for {topic_name} in {path}"
    assert json.loads(path.read_text()), "at least one example"


@pytest.mark.parametrize("topic_name", list(TOPICS))
def test_golden_examples_round_trip(topic_name: str) -> None:
    topic = TOPICS[topic_name]
    for example in json.loads((EXAMPLES / f"{topic_name}.json").read_text()):
        # Unknown fields fail the parse: an example can never drift from the contract silently.
        message = json_format.ParseDict(example, topic.message_type())
        wire = message.SerializeToString()
        decoded = topic.message_type.FromString(wire)
        assert decoded == message
        assert json_format.MessageToDict(decoded) == example
        assert getattr(decoded, topic.key), f"example lacks its key field {topic.key}"


def test_messages_tolerate_unknown_fields_from_newer_producers() -> None:
    """A consumer on the old schema must decode a message a newer producer extended."""
    topic = TOPICS["images.uploaded"]
    message = json_format.ParseDict(
        json.loads((EXAMPLES / "images.uploaded.json").read_text())[0], topic.message_type()
    )
    extended = message.SerializeToString() + b"\xa2\x06\x03new"  # field 100, length-delimited "new"
    decoded = topic.message_type.FromString(extended)
    assert decoded.image_id == message.image_id
