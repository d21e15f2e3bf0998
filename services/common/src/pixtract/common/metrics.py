"""Prometheus metrics every service exposes at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUEST_SECONDS = Histogram(
    "pixtract_http_request_seconds",
    "HTTP request latency by route template, method and status.",
    ["method", "route", "status"],
)
EVENTS_CONSUMED = Counter(
    "pixtract_events_consumed_total",
    "Events handled by a consumer, by outcome (ok, retried, dead_lettered).",
    ["topic", "group", "outcome"],
)
EVENT_HANDLER_SECONDS = Histogram(
    "pixtract_event_handler_seconds",
    "Time a consumer handler took per event (per-stage processing time).",
    ["topic", "group"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
EVENTS_DEAD_LETTERED = Counter(
    "pixtract_events_dead_lettered_total",
    "Events sent to a dead-letter topic.",
    ["topic", "group"],
)
EVENTS_PUBLISHED = Counter(
    "pixtract_events_published_total",
    "Events published, by topic.",
    ["topic"],
)
CONSUMER_LAG = Gauge(
    "pixtract_consumer_lag_messages",
    "Messages between the consumer position and the end of each assigned partition.",
    ["topic", "partition", "group"],
)
