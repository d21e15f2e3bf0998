"""The chart lints clean, renders over the values matrix, and every manifest validates strictly
against the two newest Kubernetes versions kubernetes-validate ships."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions, major_minor

from tests.unit.chart.rendering import (
    CHART_DIR,
    MATRIX,
    SERVICES,
    Manifest,
    load_values,
    manifests,
    named,
    notes,
    of_kind,
    parse_manifests,
    render_values,
)

CASES = sorted(MATRIX)
# Custom resources: kubernetes-validate has no schema for them; their shape is checked below.
CRD_KINDS = {"ScaledObject", "TriggerAuthentication", "ServiceMonitor"}
NEWEST_TWO = sorted({major_minor(v) for v in all_versions()}, key=lambda v: tuple(map(int, v.split("."))))[-2:]


@pytest.fixture(scope="module", autouse=True)
def _schemas_parsed_once() -> Iterator[None]:
    # kubernetes-validate reads and parses the (large) schema files on every call; the
    # validation itself is unchanged, only the parsed files are reused across manifests.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kubernetes_validate.utils, "schema_contents", cache(kubernetes_validate.utils.schema_contents))
        yield


def _kinds(docs: list[Manifest]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for doc in docs:
        counts[doc["kind"]] = counts.get(doc["kind"], 0) + 1
    return counts


@pytest.mark.parametrize("case", CASES)
def test_helm_lint_is_clean(case: str) -> None:
    report = helm.lint(CHART_DIR, load_values(case))
    assert report["errors"] == []
    # Severity 1 is informational ("icon is recommended"); 2 is a warning, 3 an error.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("case", CASES)
def test_values_files_match_the_schema(case: str) -> None:
    with helm.Chart.load(CHART_DIR) as chart:
        chart.validate_schema(load_values(case))


@pytest.mark.parametrize("version", NEWEST_TWO)
@pytest.mark.parametrize("case", CASES)
def test_every_manifest_validates_strictly(case: str, version: str) -> None:
    checked = 0
    for doc in manifests(case):
        if doc["kind"] in CRD_KINDS:
            with pytest.raises(kubernetes_validate.SchemaNotFoundError):
                kubernetes_validate.validate(doc, version, strict=True)
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']} is invalid for Kubernetes {version}: {exc.message}")
        checked += 1
    assert checked > 0


def test_the_newest_two_versions_are_recent() -> None:
    # If kubernetes-validate is upgraded, the matrix follows it; this documents what is checked.
    assert NEWEST_TWO == ["1.36", "1.37"]


def test_the_smallest_install_renders_each_service_whole() -> None:
    docs = manifests("minimal")
    # The five services and the web gallery (static files: a fixed replica count, no HPA).
    assert _kinds(docs) == {
        "ServiceAccount": 6,
        "Deployment": 6,
        "Service": 6,
        "PodDisruptionBudget": 6,
        "NetworkPolicy": 6,
        "HorizontalPodAutoscaler": 5,
        "ConfigMap": 1,
        "Job": 1,
        "CronJob": 1,
    }
    for name in (*SERVICES, "web"):
        deployment = named(docs, "Deployment", f"pixtract-{name}")
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == f"ghcr.io/pixtract/{name}:0.1.0"
    assert not [d for d in docs if d["kind"] == "Secret"]


def test_every_optional_feature_renders() -> None:
    kinds = _kinds(manifests("full"))
    assert kinds["Ingress"] == 1
    assert kinds["ScaledObject"] == 2
    assert kinds["TriggerAuthentication"] == 1
    assert kinds["ServiceMonitor"] == 5
    # tagging and ocr scale with KEDA, upload has a fixed replica count: two HPAs remain.
    assert kinds["HorizontalPodAutoscaler"] == 2


def test_disabled_services_leave_no_resources_and_need_no_backend() -> None:
    docs = manifests("partial")
    deployments = {d["metadata"]["name"] for d in of_kind(docs, "Deployment")}
    assert deployments == {"pixtract-auth", "pixtract-upload", "pixtract-web"}
    ingress = of_kind(docs, "Ingress")[0]
    backends = {p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert backends == {"pixtract-auth", "pixtract-upload", "pixtract-web"}


def test_the_gallery_can_be_left_out() -> None:
    values = load_values("partial") | {"web": {"enabled": False, "replicas": 2}}
    docs = parse_manifests(render_values(values))
    assert not [d for d in docs if d["metadata"]["name"] == "pixtract-web"]
    paths = of_kind(docs, "Ingress")[0]["spec"]["rules"][0]["http"]["paths"]
    assert "/" not in {p["path"] for p in paths}


def _render_error(values: dict[str, Any]) -> str:
    with pytest.raises(helm.HelmRenderError) as caught:
        render_values(values)
    return str(caught.value)


def test_missing_required_values_are_all_listed_at_once() -> None:
    message = _render_error({})
    for needed in (
        "externalKafka.bootstrapServers",
        "externalMongo.existingSecret",
        "externalS3.endpointUrl",
        "externalS3.bucket",
        "externalS3.existingSecret",
        "externalOpenSearch.url",
        "jwt.signingKey.existingSecret",
        "internalToken.existingSecret",
    ):
        assert needed in message


@pytest.mark.parametrize(
    ("change", "needed"),
    [
        ({"externalKafka": {"securityProtocol": "SASL_SSL"}}, "externalKafka.sasl.mechanism"),
        ({"externalKafka": {"sasl": {"mechanism": "PLAIN"}}}, "externalKafka.securityProtocol"),
        (
            {"externalKafka": {"securityProtocol": "SASL_SSL", "sasl": {"mechanism": "PLAIN"}}},
            "externalKafka.sasl.existingSecret",
        ),
        ({"ingress": {"enabled": True}}, "networkPolicy.ingressFrom"),
        (
            {"ingress": {"enabled": True, "tls": {"enabled": True}}, "networkPolicy": {"enabled": False}},
            "ingress.host",
        ),
    ],
)
def test_inconsistent_values_fail_early(change: dict[str, Any], needed: str) -> None:
    values = load_values("minimal")
    for key, value in change.items():
        values[key] = {**values.get(key, {}), **value}
    assert needed in _render_error(values)


@pytest.mark.parametrize(
    "values",
    [
        {"externalMongo": {"url": "mongodb://user:pass@mongo:27017"}},
        {"externalMongo": {"password": "hunter2"}},
        {"externalKafka": {"sasl": {"password": "hunter2"}}},
        {"externalS3": {"secretAccessKey": "hunter2"}},
        {"externalS3": {"endpointUrl": "https://key:secret@s3.example.com"}},
        {"externalOpenSearch": {"url": "https://admin:admin@opensearch:9200"}},
        {"jwt": {"signingKey": {"pem": "-----BEGIN PRIVATE KEY-----"}}},
        {"services": {"auth": {"settings": {"SIGNING_KEY_PASSWORD": "x"}}}},
        {"services": {"upload": {"settings": {"S3__SECRET_ACCESS_KEY": "x"}}}},
        {"serviceDefaults": {"settings": {"MONGO__URL": "mongodb://a:b@c"}}},
        {"forwardedAllowIps": "*"},
    ],
)
def test_the_schema_refuses_credentials_as_plain_values(values: dict[str, Any]) -> None:
    with helm.Chart.load(CHART_DIR) as chart, pytest.raises(helm.HelmValuesError):
        chart.validate_schema(values)


def test_custom_resources_have_the_shape_their_operators_expect() -> None:
    docs = manifests("full")
    deployments = {d["metadata"]["name"] for d in of_kind(docs, "Deployment")}
    auth = of_kind(docs, "TriggerAuthentication")[0]
    for scaled in of_kind(docs, "ScaledObject"):
        assert scaled["apiVersion"] == "keda.sh/v1alpha1"
        spec = scaled["spec"]
        assert spec["scaleTargetRef"]["name"] in deployments
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        kafka = next(t for t in spec["triggers"] if t["type"] == "kafka")
        service = spec["scaleTargetRef"]["name"].removeprefix("pixtract-")
        # The consumer group the services use is their own name.
        assert kafka["metadata"]["consumerGroup"] == service
        assert kafka["metadata"]["topic"] == "images.uploaded"
        assert all(isinstance(v, str) for v in kafka["metadata"].values()), "KEDA metadata values are strings"
        assert kafka["metadata"]["sasl"] == "scram_sha256"
        assert kafka["metadata"]["tls"] == "enable"
        assert kafka["authenticationRef"]["name"] == auth["metadata"]["name"]
    refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
    assert refs == {
        "username": ("pixtract-kafka", "user"),
        "password": ("pixtract-kafka", "pass"),
        "ca": ("pixtract-kafka-ca", "ca.pem"),
    }
    services = {d["metadata"]["name"]: d for d in of_kind(docs, "Service")}
    for monitor in of_kind(docs, "ServiceMonitor"):
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["metadata"]["labels"]["release"] == "prometheus"
        target = services[monitor["metadata"]["name"]]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= target["metadata"]["labels"].items()
        assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]


def test_a_service_override_of_false_beats_a_default_of_true() -> None:
    # Sprig's mergeOverwrite would keep the default `true`; the chart's own merge must not.
    values = load_values("minimal") | {"services": {"ocr": {"autoscaling": {"enabled": False}, "replicas": 3}}}
    docs = parse_manifests(render_values(values))
    assert "pixtract-ocr" not in {d["metadata"]["name"] for d in of_kind(docs, "HorizontalPodAutoscaler")}
    assert named(docs, "Deployment", "pixtract-ocr")["spec"]["replicas"] == 3


def test_release_names_prefix_every_resource() -> None:
    docs = parse_manifests(render_values(load_values("minimal"), name="photos"))
    names = {d["metadata"]["name"] for d in docs}
    assert "photos-pixtract-auth" in names
    auth = named(docs, "Deployment", "photos-pixtract-upload")
    env = {e["name"]: e.get("value") for e in auth["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PIXTRACT_UPLOAD_AUTH__JWKS_URL"] == "http://photos-pixtract-auth:8101/.well-known/jwks.json"


def _documented_params() -> set[str]:
    text = (CHART_DIR / "values.yaml").read_text()
    return set(re.findall(r"^## @param (\S+)", text, flags=re.MULTILINE))


def _leaf_paths(node: Any, prefix: str = "") -> set[str]:
    if isinstance(node, dict) and node:
        paths: set[str] = set()
        for key, value in node.items():
            paths |= _leaf_paths(value, f"{prefix}.{key}" if prefix else str(key))
        return paths
    return {prefix}


def test_values_yaml_documents_every_key() -> None:
    documented = _documented_params()
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    undocumented = sorted(
        path
        for path in _leaf_paths(values)
        # A documented map (e.g. podSecurityContext, services.search.settings) covers its keys.
        if not any(path == p or path.startswith(p + ".") for p in documented)
    )
    assert undocumented == []
    # ...and no @param names a key that is not there.
    leaves = _leaf_paths(values)
    stale = sorted(p for p in documented if not any(leaf == p or leaf.startswith(p + ".") for leaf in leaves))
    assert stale == []


def test_strict_validation_catches_an_unknown_field() -> None:
    deployment = copy.deepcopy(named(manifests("minimal"), "Deployment", "pixtract-auth"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    for version in NEWEST_TWO:
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(deployment, version, strict=True)


def test_the_install_notes_say_where_pixtract_answers() -> None:
    assert "https://photos.example.com/api/v1/" in notes("production")
    assert "port-forward svc/pixtract-auth 8101" in notes("minimal")
    assert "create job --from=cronjob/pixtract-search-reindex" in notes("minimal")
