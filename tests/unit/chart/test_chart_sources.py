"""The chart reads the two registries it shares with the rest of the repository, never copies:
the Ingress routes are deploy/routes.yaml (the local Caddy config's source) and the topics Job
is proto/topics.yaml (the generated registry's source)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pixtract.events.topics import TOPICS
from pixtract.localstack import caddy_config, load_routes
from pixtract.localstack.ingress import Match, PathRule
from tests.unit.chart.rendering import CHART_DIR, REPO_ROOT, SERVICES, Manifest, manifests, named, of_kind

ROUTES_FILE = REPO_ROOT / "deploy" / "routes.yaml"
TOPICS_FILE = REPO_ROOT / "proto" / "topics.yaml"
UPSTREAMS = {name: f"127.0.0.1:{8101 + i}" for i, name in enumerate(SERVICES)}
INGRESS_CASES = ["full", "staging", "production", "dev"]


def test_the_chart_links_the_sources_instead_of_copying_them() -> None:
    for linked, source in (("routes.yaml", ROUTES_FILE), ("topics.yaml", TOPICS_FILE)):
        path = CHART_DIR / "files" / linked
        assert path.is_symlink(), f"charts/pixtract/files/{linked} must link to {source.relative_to(REPO_ROOT)}"
        assert path.resolve() == source.resolve()


# ----- routes ---------------------------------------------------------------------------


def _ingress_paths(ingress: Manifest) -> list[dict[str, Any]]:
    (rule,) = ingress["spec"]["rules"]
    paths: list[dict[str, Any]] = rule["http"]["paths"]
    return paths


GALLERY = "the gallery"
NOT_FOUND = "404"


def _ingress_backend(ingress: Manifest, path: str) -> str | None:
    """The service a Kubernetes Ingress sends `path` to: longest match, Exact before Prefix."""
    best: tuple[int, int, str] | None = None
    for entry in _ingress_paths(ingress):
        route = entry["path"]
        if entry["pathType"] == "Exact":
            matched = path == route
        else:
            # Prefix matches element by element: /a/b takes /a/b and /a/b/c, never /a/bc.
            want = [p for p in route.split("/") if p]
            have = [p for p in path.split("/") if p]
            matched = have[: len(want)] == want
        if matched:
            rank = (len(route), entry["pathType"] == "Exact", entry["backend"]["service"]["name"])
            best = max(best, rank) if best else rank
    return best[2].removeprefix("pixtract-") if best else None


def _nginx_answers_404(config_map: Manifest, path: str) -> bool:
    """Whether the gallery's generated nginx snippet answers `path` with its 404."""
    for line in config_map["data"]["not-found.conf"].splitlines():
        words = line.split()
        if words[:2] == ["location", "="] and path == words[2]:
            return True
        if words[:2] == ["location", "^~"] and path.startswith(words[2]):
            return True
    return False


def _ingress_answer(docs: list[Manifest], path: str) -> str:
    """What the cluster answers for `path`: a service's name, the gallery, or a 404."""
    backend = _ingress_backend(of_kind(docs, "Ingress")[0], path)
    if backend is None:
        return NOT_FOUND  # the controller's own 404
    if backend != "web":
        return backend
    return NOT_FOUND if _nginx_answers_404(named(docs, "ConfigMap", "pixtract-web"), path) else GALLERY


def _caddy_answer(config: dict[str, Any], path: str) -> str:
    """What the local Caddy answers for `path`: a service's name, the gallery, or a 404."""
    by_dial = {dial: name for name, dial in UPSTREAMS.items()}
    for route in config["apps"]["http"]["servers"]["pixtract"]["routes"]:
        matchers = route.get("match")
        if matchers is None:
            return NOT_FOUND  # the last route: nothing else took it
        if "file" in matchers[0]:
            return GALLERY  # try_files falls back to index.html: it takes every path
        patterns = matchers[0]["path"]
        if any(path.startswith(p[:-1]) if p.endswith("*") else path == p for p in patterns):
            handler = route["handle"][0]
            if handler["handler"] == "reverse_proxy":
                return by_dial[handler["upstreams"][0]["dial"]]
            return NOT_FOUND if handler.get("status_code") == 404 else handler["handler"]
    return NOT_FOUND


def _probe_paths() -> list[str]:
    table = load_routes(ROUTES_FILE)
    probes = {"/", "/index.html", "/api", "/api/v1", "/api/v2/images", "/favicon.ico", "/.well-known/other"}
    for rule in (*table.routes, *table.blocked, *table.not_found):
        probes |= {rule.path, rule.path + "/", rule.path + "/x/y", rule.path + "X", rule.path + "-other"}
    return sorted(probes)


@pytest.mark.parametrize("case", INGRESS_CASES)
def test_ingress_and_caddy_answer_every_path_alike(case: str, tmp_path: Path) -> None:
    docs = manifests(case)
    caddy = caddy_config(load_routes(ROUTES_FILE), listen="127.0.0.1:8080", upstreams=UPSTREAMS, web_dist=tmp_path)
    answers = {path: (_ingress_answer(docs, path), _caddy_answer(caddy, path)) for path in _probe_paths()}
    assert {path: pair for path, pair in answers.items() if pair[0] != pair[1]} == {}
    # The probes cover all three kinds of answer.
    assert {GALLERY, NOT_FOUND, "upload"} <= {ingress for ingress, _ in answers.values()}


def test_ingress_paths_are_exactly_the_routes_file() -> None:
    table = load_routes(ROUTES_FILE)
    ingress = of_kind(manifests("production"), "Ingress")[0]
    rendered = [
        (p["path"], p["pathType"], p["backend"]["service"]["name"], p["backend"]["service"]["port"])
        for p in _ingress_paths(ingress)
    ]
    expected = [
        (r.path, "Exact" if r.match is Match.EXACT else "Prefix", f"pixtract-{r.service}", {"name": "http"})
        for r in table.routes
    ]
    # Then the blocked paths and everything else go to the gallery, which answers 404 for those.
    blocked = [
        (r.path, "Exact" if r.match is Match.EXACT else "Prefix", "pixtract-web", {"name": "http"})
        for r in table.blocked
    ]
    assert rendered == [*expected, *blocked, ("/", "Prefix", "pixtract-web", {"name": "http"})]


def test_blocked_paths_reach_no_service_through_the_ingress() -> None:
    table = load_routes(ROUTES_FILE)
    docs = manifests("production")
    for rule in table.blocked:
        for path in PathRule(rule.path, rule.match).caddy_paths():
            assert _ingress_answer(docs, path.rstrip("*") or "/") == NOT_FOUND, path


def test_the_ingress_class_tls_and_host_come_from_values() -> None:
    ingress = named(manifests("staging"), "Ingress", "pixtract")
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert ingress["spec"]["tls"] == [{"hosts": ["pixtract.staging.example.com"], "secretName": "pixtract-staging-tls"}]
    assert ingress["spec"]["rules"][0]["host"] == "pixtract.staging.example.com"
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert not of_kind(manifests("minimal"), "Ingress")


# ----- topics ---------------------------------------------------------------------------


def _topics_job(case: str) -> Manifest:
    return named(manifests(case), "Job", "pixtract-topics")


def _topic_args(job: Manifest) -> dict[str, tuple[int, int]]:
    container = job["spec"]["template"]["spec"]["containers"][0]
    specs = [a for a in container["args"] if not a.startswith("--")]
    parsed = {}
    for spec in specs:
        name, partitions, hours = spec.split(":")
        parsed[name] = (int(partitions), int(hours))
    return parsed


@pytest.mark.parametrize("case", ["minimal", "dev", "production"])
def test_the_topics_job_creates_every_registry_topic_and_its_dead_letter_twin(case: str) -> None:
    job = _topics_job(case)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "pixtract.common.topics", "create"]
    topics = _topic_args(job)
    expected = {t.name for t in TOPICS.values()} | {t.dlq for t in TOPICS.values()}
    assert set(topics) == expected
    for topic in TOPICS.values():
        assert topics[topic.dlq] == (topic.partitions, topic.retention_hours)
        if case != "production":
            assert topics[topic.name] == (topic.partitions, topic.retention_hours)
    # Runs before the services start, on every install and upgrade.
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"


def test_topic_overrides_apply_to_new_topics_only_where_asked() -> None:
    topics = _topic_args(_topics_job("full"))
    assert topics["images.uploaded"] == (12, 168)
    assert topics["images.uploaded.dlq"] == (4, 2160)
    args = _topics_job("full")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--replication-factor=3" in args
    assert "--config=min.insync.replicas=2" in args
    assert "--replication-factor=1" in _topics_job("dev")["spec"]["template"]["spec"]["containers"][0]["args"]


def test_the_topics_job_connects_like_the_services() -> None:
    container = _topics_job("full")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["PIXTRACT_TOPICS_KAFKA__SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["PIXTRACT_TOPICS_KAFKA__SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "pixtract-kafka",
        "key": "pass",
    }
    assert env["PIXTRACT_TOPICS_KAFKA__SSL_CAFILE"]["value"] == "/etc/pixtract/kafka-ca/ca.pem"
    assert container["image"] == "registry.example.com/pixtract/tools:1.2.3"
    # By default the Job runs in the search image, which carries pixtract.common.
    default = _topics_job("minimal")["spec"]["template"]["spec"]["containers"][0]
    assert default["image"] == "ghcr.io/pixtract/search:0.1.0"
