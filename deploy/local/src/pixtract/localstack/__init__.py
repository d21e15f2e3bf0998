"""Pixtract without Docker: S3, Kafka, MongoDB and OpenSearch stand-ins from PyPI, the
services and the Caddy ingress, all on 127.0.0.1. Used by `make up` and the test fixtures."""

from pixtract.localstack.config import SERVICES, KafkaStorage, Ports, StackConfig, StackError, find_repo_root
from pixtract.localstack.ingress import RouteTable, caddy_config, load_routes, parse_routes
from pixtract.localstack.lock import RunLock, StackAlreadyRunning
from pixtract.localstack.provision import all_topic_names, ensure_buckets, ensure_topics, s3_client
from pixtract.localstack.stack import Component, ComponentFailed, InfraEndpoints, Stack, StackEndpoints

__all__ = [
    "SERVICES",
    "Component",
    "ComponentFailed",
    "InfraEndpoints",
    "KafkaStorage",
    "Ports",
    "RouteTable",
    "RunLock",
    "Stack",
    "StackAlreadyRunning",
    "StackConfig",
    "StackEndpoints",
    "StackError",
    "all_topic_names",
    "caddy_config",
    "ensure_buckets",
    "ensure_topics",
    "find_repo_root",
    "load_routes",
    "parse_routes",
    "s3_client",
]
