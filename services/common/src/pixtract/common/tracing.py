"""OpenTelemetry trace context across HTTP and Kafka.

A tracer provider is always installed so every request and every consumed event has a
real trace id (logged with each line) and passes it on in `traceparent`; spans are
exported only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from pixtract.common.logging import trace_id_var

_propagator = TraceContextTextMapPropagator()
_configured = False


def configure_tracing(service: str) -> None:
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"pixtract-{service}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def tracer() -> trace.Tracer:
    return trace.get_tracer("pixtract")


@contextmanager
def span_from_carrier(name: str, carrier: Mapping[str, str], kind: trace.SpanKind) -> Iterator[trace.Span]:
    """Start a span whose parent is the `traceparent` found in `carrier` (HTTP or Kafka headers)."""
    parent = _propagator.extract(carrier=dict(carrier))
    token = otel_context.attach(parent)
    try:
        with tracer().start_as_current_span(name, kind=kind) as span:
            trace_token = trace_id_var.set(current_trace_id())
            try:
                yield span
            finally:
                trace_id_var.reset(trace_token)
    finally:
        otel_context.detach(token)


def inject_trace_context(carrier: MutableMapping[str, str]) -> None:
    _propagator.inject(carrier)


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
