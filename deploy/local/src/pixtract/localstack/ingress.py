"""The ingress routes (deploy/routes.yaml) and the Caddy JSON config generated from them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from pixtract.localstack.config import StackError

NOT_BUILT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pixtract</title></head>
<body><h1>Pixtract</h1>
<p>The web gallery is not built, so there is nothing to show here yet
(build it into <code>services/web/dist</code>). The API answers under <code>/api/v1/</code>.</p>
</body></html>
"""


class Match(StrEnum):
    PREFIX = "prefix"
    EXACT = "exact"


@dataclass(frozen=True)
class PathRule:
    path: str
    match: Match

    def caddy_paths(self) -> list[str]:
        if self.match is Match.EXACT:
            return [self.path]
        if self.path == "/":
            return ["*"]
        # Caddy's "/p/*" alone would miss "/p" and "/p*" would take "/pX": list both forms.
        return [self.path, f"{self.path}/*"]


@dataclass(frozen=True)
class Route(PathRule):
    service: str


@dataclass(frozen=True)
class RouteTable:
    routes: tuple[Route, ...]
    blocked: tuple[PathRule, ...]
    not_found: tuple[PathRule, ...]

    @property
    def services(self) -> frozenset[str]:
        return frozenset(r.service for r in self.routes)


def _rule(entry: Any, where: str) -> tuple[str, Match]:
    if not isinstance(entry, Mapping):
        raise StackError(f"{where}: expected a mapping, got {entry!r}")
    path = entry.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise StackError(f"{where}: path must start with '/', got {path!r}")
    try:
        match = Match(entry.get("match", "prefix"))
    except ValueError:
        raise StackError(f"{where}: match must be 'prefix' or 'exact', got {entry.get('match')!r}") from None
    if match is Match.PREFIX and path != "/" and path.endswith("/"):
        raise StackError(f"{where}: write prefix {path!r} without its trailing '/'")
    if any(ch in path for ch in "*?{}"):
        raise StackError(f"{where}: {path!r} holds a wildcard; routes are plain paths")
    return path, match


def parse_routes(data: Any) -> RouteTable:
    if not isinstance(data, Mapping):
        raise StackError("routes file: expected a mapping at the top")
    routes: list[Route] = []
    for i, entry in enumerate(data.get("routes") or []):
        path, match = _rule(entry, f"routes[{i}]")
        service = entry.get("service")
        if not isinstance(service, str) or not service:
            raise StackError(f"routes[{i}]: service missing")
        routes.append(Route(path=path, match=match, service=service))
    blocked = tuple(PathRule(*_rule(e, f"blocked[{i}]")) for i, e in enumerate(data.get("blocked") or []))
    not_found = tuple(PathRule(*_rule(e, f"not_found[{i}]")) for i, e in enumerate(data.get("not_found") or []))
    return RouteTable(routes=tuple(routes), blocked=blocked, not_found=not_found)


def load_routes(path: Path) -> RouteTable:
    return parse_routes(yaml.safe_load(path.read_text()))


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return {
        "handler": "static_response",
        "status_code": status,
        "headers": {"Content-Type": ["application/problem+json"]},
        "body": json.dumps(body),
    }


def _problem_placeholder() -> dict[str, Any]:
    # Caddy fills the placeholders when it answers; json.dumps would quote the status number.
    body = (
        '{"type": "about:blank", "title": "{http.error.status_text}", '
        '"status": {http.error.status_code}, "detail": "The service behind this path is not available."}'
    )
    return {
        "handler": "static_response",
        "status_code": "{http.error.status_code}",
        "headers": {"Content-Type": ["application/problem+json"]},
        "body": body,
    }


def _paths(rules: tuple[PathRule, ...]) -> list[str]:
    return [p for rule in rules for p in rule.caddy_paths()]


def caddy_config(
    table: RouteTable,
    *,
    listen: str,
    upstreams: Mapping[str, str],
    web_dist: Path | None,
    admin_listen: str | None = None,
    storage_dir: Path | None = None,
) -> dict[str, Any]:
    """Caddy's JSON config: blocked paths first, then routes, then the web gallery.

    `upstreams` maps a service name to the `host:port` Caddy dials. Routes to services
    missing from it are left out (a stack run with only some services).
    """
    not_found = _problem(404, "Not Found", "No such resource.")
    routes: list[dict[str, Any]] = []
    if table.blocked:
        routes.append({"match": [{"path": _paths(table.blocked)}], "handle": [not_found], "terminal": True})
    for route in table.routes:
        upstream = upstreams.get(route.service)
        if upstream is None:
            continue
        proxy = {
            "handler": "reverse_proxy",
            "upstreams": [{"dial": upstream}],
            # Stream responses as they come (downloads, long polls) instead of buffering.
            "flush_interval": -1,
        }
        routes.append({"match": [{"path": route.caddy_paths()}], "handle": [proxy], "terminal": True})
    if table.not_found:
        routes.append({"match": [{"path": _paths(table.not_found)}], "handle": [not_found], "terminal": True})
    if web_dist is not None:
        root = str(web_dist)
        # Unknown paths fall back to index.html so the gallery's client-side routes load.
        routes.append(
            {
                "match": [{"file": {"root": root, "try_files": ["{http.request.uri.path}", "/index.html"]}}],
                "handle": [
                    {"handler": "rewrite", "uri": "{http.matchers.file.relative}"},
                    {"handler": "file_server", "root": root},
                ],
                "terminal": True,
            }
        )
    else:
        page = {
            "handler": "static_response",
            "status_code": 200,
            "headers": {"Content-Type": ["text/html; charset=utf-8"]},
            "body": NOT_BUILT_PAGE,
        }
        routes.append({"match": [{"path": ["/", "/index.html"]}], "handle": [page], "terminal": True})
    routes.append({"handle": [not_found]})

    server: dict[str, Any] = {
        "listen": [listen],
        "routes": routes,
        # Plain HTTP on loopback: no certificates, no redirect to HTTPS.
        "automatic_https": {"disable": True},
        # Access log to Caddy's log file.
        "logs": {},
        # Errors raised by handlers (an upstream that is down: 502) answer as problem JSON too.
        "errors": {"routes": [{"handle": [_problem_placeholder()]}]},
    }
    admin: dict[str, Any] = {"config": {"persist": False}}
    if admin_listen is None:
        admin["disabled"] = True
    else:
        admin["listen"] = admin_listen
    # The default grace period is eternal: one stuck upload would hold up every stop.
    http_app = {"grace_period": "5s", "servers": {"pixtract": server}}
    config: dict[str, Any] = {"admin": admin, "apps": {"http": http_app}}
    if storage_dir is not None:
        config["storage"] = {"module": "file_system", "root": str(storage_dir)}
    return config
