"""skaffold.yaml builds every service image from its Dockerfile and deploys the chart with
exactly those images; its profiles target a local kind cluster and any other cluster."""

from __future__ import annotations

from typing import Any

import yaml

from tests.unit.chart.rendering import (
    CHART_DIR,
    REPO_ROOT,
    SERVICES,
    load_values,
    named,
    parse_manifests,
    render_values,
)

SKAFFOLD = REPO_ROOT / "skaffold.yaml"


def _config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(SKAFFOLD.read_text())
    return config


def test_every_service_image_is_built_from_its_dockerfile_at_the_repository_root() -> None:
    artifacts = {a["image"]: a for a in _config()["build"]["artifacts"]}
    assert set(artifacts) == {f"pixtract/{name}" for name in (*SERVICES, "web")}
    # The gallery is built from its own folder (npm ci + vite build inside the image).
    assert artifacts["pixtract/web"]["context"] == "services/web"
    assert (REPO_ROOT / "services" / "web" / artifacts["pixtract/web"]["docker"]["dockerfile"]).is_file()
    for name in SERVICES:
        artifact = artifacts[f"pixtract/{name}"]
        assert artifact["context"] == "."
        dockerfile = artifact["docker"]["dockerfile"]
        assert dockerfile == f"services/{name}/Dockerfile"
        assert (REPO_ROOT / dockerfile).is_file()


def test_the_chart_is_deployed_with_the_images_skaffold_built() -> None:
    (release,) = _config()["deploy"]["helm"]["releases"]
    assert (REPO_ROOT / release["chartPath"]).resolve() == CHART_DIR
    for values_file in release["valuesFiles"]:
        assert (REPO_ROOT / values_file).is_file()
    templates = release["setValueTemplates"]
    for name in SERVICES:
        key = f"pixtract_{name}"
        assert templates[f"services.{name}.image.repository"] == f"{{{{.IMAGE_REPO_{key}}}}}"
        assert templates[f"services.{name}.image.tag"].startswith(f"{{{{.IMAGE_TAG_{key}}}}}")
    assert templates["topics.image.repository"] == "{{.IMAGE_REPO_pixtract_search}}"
    assert templates["web.image.repository"] == "{{.IMAGE_REPO_pixtract_web}}"


def test_the_set_value_keys_are_chart_values_that_reach_the_pods() -> None:
    # What skaffold would pass with --set, with made-up image references.
    values = load_values("dev")
    for name in SERVICES:
        values["services"].setdefault(name, {})["image"] = {"repository": f"kind.local/{name}", "tag": "abc123"}
    values["topics"]["image"] = {"repository": "kind.local/search", "tag": "abc123"}
    values["web"] = {"enabled": True, "replicas": 1, "image": {"repository": "kind.local/web", "tag": "abc123"}}
    docs = parse_manifests(render_values(values))
    web = named(docs, "Deployment", "pixtract-web")["spec"]["template"]["spec"]["containers"][0]
    assert web["image"] == "kind.local/web:abc123"
    for name in SERVICES:
        container = named(docs, "Deployment", f"pixtract-{name}")["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == f"kind.local/{name}:abc123"
    job = named(docs, "Job", "pixtract-topics")["spec"]["template"]["spec"]["containers"][0]
    assert job["image"] == "kind.local/search:abc123"


def test_profiles_for_kind_and_for_any_cluster() -> None:
    profiles = {p["name"]: p for p in _config()["profiles"]}
    assert set(profiles) == {"kind", "cluster"}
    kind_build = next(p for p in profiles["kind"]["patches"] if p["path"] == "/build/local")
    assert kind_build["value"]["push"] is False
    assert profiles["kind"]["activation"] == [{"kubeContext": "kind-.*"}]
    cluster_build = next(p for p in profiles["cluster"]["patches"] if p["path"] == "/build/local")
    assert cluster_build["value"]["push"] is True
    values = next(p for p in profiles["cluster"]["patches"] if p["path"].endswith("/valuesFiles"))
    for values_file in values["value"]:
        assert (REPO_ROOT / values_file).is_file()
    # Every patched template key exists in the base config (a typo would add a new key silently).
    base = _config()["deploy"]["helm"]["releases"][0]["setValueTemplates"]
    for patch in profiles["kind"]["patches"]:
        if "/setValueTemplates/" in patch["path"]:
            assert patch["op"] == "replace"
            assert patch["path"].rsplit("/", 1)[1] in base
