"""Policy over every rendered manifest of the values matrix: what a cluster operator checks
before trusting a chart."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.chart.rendering import (
    CHART_DIR,
    MATRIX,
    SERVICES,
    Manifest,
    env_of,
    manifests,
    named,
    of_kind,
    pod_spec,
    pod_specs,
    service_deployments,
)

CASES = sorted(MATRIX)
# Env names that carry credentials: they must come from a Secret, never a literal value.
CREDENTIAL_ENV = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|SASL_USERNAME|MONGO__URL|PRIVATE")
# Value keys allowed to contain such words: they name a Secret or a key inside one.
SECRET_REFERENCE_KEY = re.compile(r"(existingSecret|caSecret|secretName|Key|pullSecrets|secretKeyRef)$")
SENSITIVE_KEY = re.compile(r"(?i)password|secret|token|credential|private|apikey|accesskey")
URL_WITH_CREDENTIALS = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s]+:[^/@\s]+@")


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def _pod_labels(deployment: Manifest) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


@pytest.mark.parametrize("case", CASES)
def test_every_container_runs_locked_down(case: str) -> None:
    for workload, pod in pod_specs(manifests(case)):
        where = f"{case}: {workload['kind']} {workload['metadata']['name']}"
        pod_security = pod["securityContext"]
        assert pod_security["runAsNonRoot"] is True, where
        assert pod_security["runAsUser"] != 0, where
        assert pod_security["seccompProfile"]["type"] == "RuntimeDefault", where
        assert pod["automountServiceAccountToken"] is False, where
        for host_namespace in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(host_namespace), where
        for volume in pod.get("volumes", []):
            assert "hostPath" not in volume, where
        for container in pod["containers"] + pod.get("initContainers", []):
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["privileged"] is False, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            assert security["seccompProfile"]["type"] == "RuntimeDefault", where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= container["resources"][kind].keys(), f"{where}: {kind}"
            # A read-only root needs a writable TMPDIR.
            assert env_of(container)["TMPDIR"]["value"] == "/tmp", where
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            tmp = next(v for v in pod["volumes"] if v["name"] == mounts["/tmp"])
            assert tmp["emptyDir"]["sizeLimit"], where
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1], f"{where}: {image} has no tag"
            assert not image.endswith(":latest"), f"{where}: {image}"


@pytest.mark.parametrize("case", CASES)
def test_every_service_has_all_three_probes_on_its_health_endpoints(case: str) -> None:
    for deployment in service_deployments(manifests(case)):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["ports"] == [
            {"name": "http", "containerPort": container["ports"][0]["containerPort"], "protocol": "TCP"}
        ]
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        # /readyz gives every backend check 2 s: the probe must wait longer than that.
        assert container["readinessProbe"]["timeoutSeconds"] > 2
        # Draining takes uvicorn's 20 s plus the consumer's 25 s.
        assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 45


@pytest.mark.parametrize("case", CASES)
def test_every_deployment_has_a_pdb_a_network_policy_a_service_and_one_scaler(case: str) -> None:
    docs = manifests(case)
    for deployment in of_kind(docs, "Deployment"):
        name = deployment["metadata"]["name"]
        labels = _pod_labels(deployment)
        pdbs = [
            p for p in of_kind(docs, "PodDisruptionBudget") if _selects(p["spec"]["selector"]["matchLabels"], labels)
        ]
        assert len(pdbs) == 1, f"{case}: {name} has {len(pdbs)} PDBs"
        policies = [
            n for n in of_kind(docs, "NetworkPolicy") if _selects(n["spec"]["podSelector"]["matchLabels"], labels)
        ]
        assert len(policies) == 1, f"{case}: {name} has {len(policies)} NetworkPolicies"
        services = [s for s in of_kind(docs, "Service") if _selects(s["spec"]["selector"], labels)]
        assert len(services) == 1, f"{case}: {name} has {len(services)} Services"
        scalers = [
            d
            for d in docs
            if d["kind"] in {"HorizontalPodAutoscaler", "ScaledObject"} and d["spec"]["scaleTargetRef"]["name"] == name
        ]
        # Either one scaler owns the replica count, or the Deployment sets it: never both.
        if scalers:
            assert len(scalers) == 1, f"{case}: {name} has {len(scalers)} scalers"
            assert "replicas" not in deployment["spec"], f"{case}: {name} fights its autoscaler"
        else:
            assert deployment["spec"]["replicas"] >= 1
        account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        assert account == name
        assert [a for a in of_kind(docs, "ServiceAccount") if a["metadata"]["name"] == account]


@pytest.mark.parametrize("case", CASES)
def test_credentials_only_come_from_secrets(case: str) -> None:
    docs = manifests(case)
    assert of_kind(docs, "Secret") == [], "the chart never creates Secrets: operators bring their own"
    # The only ConfigMap is the gallery's nginx snippet (generated from routes.yaml).
    assert [c["metadata"]["name"] for c in of_kind(docs, "ConfigMap")] == ["pixtract-web"]
    for workload, pod in pod_specs(docs):
        for container in pod["containers"]:
            for name, entry in env_of(container).items():
                where = f"{case}: {workload['metadata']['name']} {name}"
                if CREDENTIAL_ENV.search(name) and not name.endswith(("_FILE", "_DIR", "_CAFILE")):
                    assert "secretKeyRef" in entry.get("valueFrom", {}), f"{where} is not from a Secret"
                value = entry.get("value", "")
                assert not URL_WITH_CREDENTIALS.match(str(value)), f"{where} carries credentials in a URL"


def _plain_secrets(node: Any, path: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            if (
                SENSITIVE_KEY.search(str(key))
                and not SECRET_REFERENCE_KEY.search(str(key))
                # A block named like a secret (internalToken:) is fine; a value in it is checked below.
                and isinstance(value, str | int | float)
                and value != ""
            ):
                found.append(child)
            found += _plain_secrets(value, child)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found += _plain_secrets(item, f"{path}[{i}]")
    elif isinstance(node, str) and URL_WITH_CREDENTIALS.match(node):
        found.append(path)
    return found


VALUES_FILES = {"chart-defaults": CHART_DIR / "values.yaml", **MATRIX}


@pytest.mark.parametrize("path", VALUES_FILES.values(), ids=list(VALUES_FILES))
def test_no_values_file_holds_a_secret(path: Path) -> None:
    assert _plain_secrets(yaml.safe_load(path.read_text())) == []


def test_the_plain_secret_detector_catches_what_it_should() -> None:
    assert _plain_secrets({"externalMongo": {"password": "x", "existingSecret": "s", "urlKey": "k"}}) == [
        "externalMongo.password"
    ]
    assert _plain_secrets({"a": [{"url": "mongodb://u:p@h/db"}]}) == ["a[0].url"]


@pytest.mark.parametrize("case", CASES)
def test_network_policies_admit_only_callers_the_ingress_and_scrapers(case: str) -> None:
    docs = manifests(case)
    for policy in of_kind(docs, "NetworkPolicy"):
        assert "Ingress" in policy["spec"]["policyTypes"]
        for rule in policy["spec"]["ingress"]:
            assert rule["ports"] == [{"port": "http"}], "only the HTTP port is reachable"
            assert rule["from"], "a rule without `from` would admit everyone"


def test_only_the_callers_of_a_service_may_reach_it() -> None:
    docs = manifests("minimal")
    callers = {}
    for policy in of_kind(docs, "NetworkPolicy"):
        components = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            for rule in policy["spec"]["ingress"]
            for peer in rule["from"]
            if "podSelector" in peer and "namespaceSelector" not in peer
        }
        callers[policy["metadata"]["name"].removeprefix("pixtract-")] = components
    # ocr has no routes and no callers: with no scrapers configured, nobody may connect.
    assert (
        next(p for p in of_kind(docs, "NetworkPolicy") if p["metadata"]["name"] == "pixtract-ocr")["spec"]["ingress"]
        == []
    )
    # The gallery is static files: it talks to nobody.
    assert named(docs, "NetworkPolicy", "pixtract-web")["spec"]["egress"] == []
    assert callers == {
        # JWKS and API-key introspection.
        "auth": {"auth", "upload", "tagging", "search"},
        # search (and its rebuild Job) reads upload's records to rebuild the index.
        "upload": {"search", "search-reindex"},
        "tagging": set(),
        "ocr": set(),
        "search": set(),
        "web": set(),
    }


@pytest.mark.parametrize("case", CASES)
def test_kafka_producers_are_idempotent_and_uvicorn_trusts_only_the_proxy(case: str) -> None:
    for deployment in service_deployments(manifests(case)):
        name = deployment["metadata"]["name"].removeprefix("pixtract-")
        env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        assert env[f"PIXTRACT_{name.upper()}_KAFKA__ENABLE_IDEMPOTENCE"]["value"] == "true"
        assert env[f"PIXTRACT_{name.upper()}_ENVIRONMENT"]["value"] == "production"
        trusted = env["FORWARDED_ALLOW_IPS"]["value"]
        assert trusted
        assert "*" not in trusted


def test_each_service_gets_only_the_backends_it_uses() -> None:
    docs = manifests("minimal")
    uses = {}
    for deployment in service_deployments(docs):
        name = deployment["metadata"]["name"].removeprefix("pixtract-")
        env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        prefix = f"PIXTRACT_{name.upper()}_"
        uses[name] = {
            backend
            for backend, key in (
                ("kafka", "KAFKA__BOOTSTRAP_SERVERS"),
                ("mongo", "MONGO__URL"),
                ("s3", "S3__SECRET_ACCESS_KEY"),
                ("opensearch", "OPENSEARCH__URL"),
            )
            if prefix + key in env
        }
    assert uses == {
        "auth": {"kafka", "mongo"},
        "upload": {"kafka", "mongo", "s3"},
        "tagging": {"kafka", "mongo", "s3"},
        "ocr": {"kafka", "mongo", "s3"},
        "search": {"kafka", "opensearch"},
    }
    assert set(uses) == set(SERVICES)


def test_the_signing_key_is_a_mounted_secret_file() -> None:
    docs = manifests("production")
    pod = next(d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == "pixtract-auth")["spec"]["template"][
        "spec"
    ]
    container = pod["containers"][0]
    env = env_of(container)
    key_file = env["PIXTRACT_AUTH_SIGNING_KEY_FILE"]["value"]
    mount = next(m for m in container["volumeMounts"] if key_file.startswith(m["mountPath"] + "/"))
    assert mount["readOnly"] is True
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "pixtract-signing-key"
    # Readable by the pod's group (fsGroup) only, never by others.
    assert volume["secret"]["defaultMode"] & 0o007 == 0
    assert env["PIXTRACT_AUTH_SIGNING_KEY_DIR"]["value"].startswith("/etc/pixtract/")
    # No other service sees the key.
    for deployment in of_kind(docs, "Deployment"):
        if deployment["metadata"]["name"] != "pixtract-auth":
            volumes = deployment["spec"]["template"]["spec"]["volumes"]
            assert all(v.get("secret", {}).get("secretName") != "pixtract-signing-key" for v in volumes)


def test_the_internal_token_reaches_only_upload_and_search() -> None:
    docs = manifests("production")
    for deployment in of_kind(docs, "Deployment"):
        name = deployment["metadata"]["name"].removeprefix("pixtract-")
        env = env_of(deployment["spec"]["template"]["spec"]["containers"][0])
        token = env.get(f"PIXTRACT_{name.upper()}_INTERNAL_TOKEN")
        if name in {"upload", "search"}:
            assert token is not None
            assert token["valueFrom"]["secretKeyRef"] == {"name": "pixtract-internal-token", "key": "token"}
        else:
            assert token is None, f"{name} has no internal endpoints to serve or call"


def test_the_search_rebuild_is_an_on_demand_job_with_the_search_settings() -> None:
    docs = manifests("production")
    cron = named(docs, "CronJob", "pixtract-search-reindex")
    assert cron["spec"]["suspend"] is True
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    container = pod_spec(cron)["containers"][0]
    search = named(docs, "Deployment", "pixtract-search")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == search["image"]
    # The image's entrypoint is `python -m pixtract.search`; the argument picks the command.
    assert container["args"] == ["reindex"]
    assert "command" not in container
    assert env_of(container) == env_of(search)
