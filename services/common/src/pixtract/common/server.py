"""`python -m pixtract.<service>` runs the service's app under uvicorn with its settings."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from pixtract.common.config import ServiceSettings
from pixtract.common.logging import configure_logging
from pixtract.common.tracing import configure_tracing


def run_service(settings: ServiceSettings, create_app: Callable[[ServiceSettings], FastAPI]) -> None:
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    configure_tracing(settings.service_name)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # our JSON logging already owns the root logger
        access_log=False,  # RequestContextMiddleware logs each request with its ids
        # Client addresses from X-Forwarded-For, believed only from the peers listed in the
        # FORWARDED_ALLOW_IPS environment variable (uvicorn reads it; default 127.0.0.1,::1).
        proxy_headers=True,
        # Drain in-flight requests and Kafka work on SIGTERM before the lifespan closes clients.
        timeout_graceful_shutdown=20,
    )
