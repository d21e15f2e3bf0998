"""Render charts/pixtract offline (Helm's Go SDK through helm-python-sdk, no binary, no cluster).

The matrix is every values file an operator is shown: the chart's ci/ cases (the smallest
install, every optional feature on, only some services) and deploy/<env>/values.yaml.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
CHART_DIR = REPO_ROOT / "charts" / "pixtract"
RELEASE = "pixtract"
NAMESPACE = "pixtract"
SERVICES = ("auth", "upload", "tagging", "ocr", "search")

MATRIX: dict[str, Path] = {
    "minimal": CHART_DIR / "ci" / "minimal-values.yaml",
    "full": CHART_DIR / "ci" / "full-values.yaml",
    "partial": CHART_DIR / "ci" / "partial-values.yaml",
    "dev": REPO_ROOT / "deploy" / "dev" / "values.yaml",
    "staging": REPO_ROOT / "deploy" / "staging" / "values.yaml",
    "production": REPO_ROOT / "deploy" / "production" / "values.yaml",
}

Manifest = dict[str, Any]


def load_values(case: str) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(MATRIX[case].read_text()) or {}
    return values


def render_values(values: dict[str, Any], *, name: str = RELEASE) -> dict[str, str]:
    """Template path -> rendered text; raises helm_python.HelmRenderError when a template fails."""
    with helm.Chart.load(CHART_DIR) as chart:
        return chart.render(values, name=name, namespace=NAMESPACE, is_install=True)


def parse_manifests(rendered: dict[str, str]) -> list[Manifest]:
    docs: list[Manifest] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                assert isinstance(doc, dict), f"{path}: a manifest that is not a mapping"
                docs.append(doc)
    return docs


@cache
def _rendered_case(case: str) -> tuple[dict[str, str], tuple[Manifest, ...]]:
    rendered = render_values(load_values(case))
    return rendered, tuple(parse_manifests(rendered))


def manifests(case: str) -> list[Manifest]:
    return list(_rendered_case(case)[1])


def notes(case: str) -> str:
    return next(text for path, text in _rendered_case(case)[0].items() if path.endswith("NOTES.txt"))


def of_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]


def service_deployments(docs: list[Manifest]) -> list[Manifest]:
    """The Deployments of the Python services (not the web gallery's nginx)."""
    return [
        d for d in of_kind(docs, "Deployment") if d["metadata"]["labels"]["app.kubernetes.io/component"] in SERVICES
    ]


def named(docs: list[Manifest], kind: str, name: str) -> Manifest:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec = workload["spec"]["jobTemplate"]["spec"] if workload["kind"] == "CronJob" else workload["spec"]
    pod: dict[str, Any] = spec["template"]["spec"]
    return pod


def pod_specs(docs: list[Manifest]) -> Iterator[tuple[Manifest, dict[str, Any]]]:
    """Every workload (Deployment, Job, CronJob) with its pod spec."""
    for doc in docs:
        if doc["kind"] in {"Deployment", "Job", "CronJob"}:
            yield doc, pod_spec(doc)


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}
