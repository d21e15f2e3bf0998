"""Behind the Ingress, uvicorn takes the client address from X-Forwarded-For only when the
peer is trusted (FORWARDED_ALLOW_IPS, set by the chart): auth throttles logins per address."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
import yaml
from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from pixtract.common import server
from pixtract.common.config import ServiceSettings
from tests.unit.chart.rendering import CHART_DIR, env_of, manifests, named


def _chart_default() -> str:
    value: str = yaml.safe_load((CHART_DIR / "values.yaml").read_text())["forwardedAllowIps"]
    return value


def test_run_service_leaves_forwarded_allow_ips_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    captured: dict[str, Any] = {}

    def fake_run(app: Any, **kwargs: Any) -> None:
        captured.update(kwargs)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr(server, "configure_tracing", lambda name: None)
    monkeypatch.setattr(server, "configure_logging", lambda *args: None)
    server.run_service(ServiceSettings(log_json=False), lambda settings: FastAPI())
    assert captured["proxy_headers"] is True
    assert "forwarded_allow_ips" not in captured
    # uvicorn reads the variable itself when the argument is not given.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", _chart_default())
    config = uvicorn.Config(FastAPI(), **captured)
    assert config.forwarded_allow_ips == _chart_default()


def test_the_chart_sets_the_variable_for_every_service() -> None:
    deployment = named(manifests("production"), "Deployment", "pixtract-auth")
    env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
    assert env["FORWARDED_ALLOW_IPS"]["value"] == "10.20.0.0/16"


async def _client_seen(trusted: str, peer: str, forwarded_for: str) -> str:
    seen: dict[str, str] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["client"] = scope["client"][0]

    middleware: Any = ProxyHeadersMiddleware(app, trusted_hosts=trusted)
    scope: dict[str, Any] = {
        "type": "http",
        "client": (peer, 40000),
        "headers": [(b"x-forwarded-for", forwarded_for.encode())],
    }
    await middleware(scope, None, None)
    return seen["client"]


async def test_the_default_trusts_the_proxy_but_not_a_forged_header() -> None:
    trusted = _chart_default()
    # The ingress controller (a pod address) appended the real client to what the client sent.
    assert await _client_seen(trusted, "10.1.2.3", "203.0.113.9") == "203.0.113.9"
    assert await _client_seen(trusted, "10.1.2.3", "198.51.100.1, 203.0.113.9") == "203.0.113.9"
    # A direct connection from outside the trusted ranges cannot pick its own address.
    assert await _client_seen(trusted, "203.0.113.50", "198.51.100.1") == "203.0.113.50"
    # With "*" (refused by the chart's schema) the forged first entry would win.
    assert await _client_seen("*", "10.1.2.3", "198.51.100.1, 203.0.113.9") == "198.51.100.1"
