"""The service images, checked from their Dockerfiles (no Docker engine here to build them):
pinned bases, multi-stage, non-root, no compilers in the runtime stage, the right port and
entrypoint, models baked in, and a build context that carries what the builds copy."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from pixtract.auth.config import Settings as AuthSettings
from pixtract.common.config import ServiceSettings
from pixtract.ocr.config import Settings as OcrSettings
from pixtract.search.config import Settings as SearchSettings
from pixtract.tagging.config import Settings as TaggingSettings
from pixtract.upload.config import Settings as UploadSettings
from tests.unit.chart.rendering import CHART_DIR, REPO_ROOT, SERVICES

SETTINGS: dict[str, type[ServiceSettings]] = {
    "auth": AuthSettings,
    "upload": UploadSettings,
    "tagging": TaggingSettings,
    "ocr": OcrSettings,
    "search": SearchSettings,
}
COMPILERS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|make|cmake|cargo|rustc|golang|python3-dev|libc6-dev)\b")
PINNED_PYTHON = re.compile(r"^python:3\.11\.\d+-slim(-[a-z]+)?$")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(path: Path) -> list[Stage]:
    """Stages with their instructions; line continuations joined, comments dropped, ARGs before FROM resolved."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, f"{path}: dangling line continuation"
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "ARG" and not stages:
            name, _, default = args.partition("=")
            global_args[name] = default
        elif keyword == "FROM":
            words = args.split()
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: global_args[m.group(1) or m.group(2)], words[0])
            stage_name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=base, name=stage_name))
        else:
            stages[-1].instructions.append((keyword, args))
    return stages


def _dockerfile(name: str) -> list[Stage]:
    return parse_dockerfile(REPO_ROOT / "services" / name / "Dockerfile")


@pytest.mark.parametrize("name", SERVICES)
def test_multi_stage_on_one_pinned_slim_python(name: str) -> None:
    stages = _dockerfile(name)
    assert len(stages) >= 2, "a builder stage and a runtime stage"
    for stage in stages:
        assert PINNED_PYTHON.match(stage.base), f"{stage.base} is not a pinned python:3.11.<patch>-slim tag"
    # The venv's interpreter is a link into the base image: builder and runtime must match.
    assert len({s.base for s in stages}) == 1


@pytest.mark.parametrize("name", SERVICES)
def test_the_builder_installs_the_service_with_the_pinned_constraints(name: str) -> None:
    builder = _dockerfile(name)[0]
    installs = [r for r in builder.all("RUN") if "pip" in r and " install " in r]
    assert len(installs) == 1
    words = shlex.split(installs[0].split("&&")[0])
    assert "--no-cache-dir" in words
    assert words[words.index("-c") + 1] == "requirements/constraints.txt"
    assert {"services/common", f"services/{name}"} <= set(words)
    copied = [shlex.split(c)[0] for c in builder.all("COPY")]
    assert {"requirements/constraints.txt", "services/common", f"services/{name}"} <= set(copied)
    for source in copied:
        assert (REPO_ROOT / source).exists(), source


@pytest.mark.parametrize("name", SERVICES)
def test_the_runtime_stage_is_non_root_without_compilers(name: str) -> None:
    runtime = _dockerfile(name)[-1]
    users = runtime.all("USER")
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in {"0", "root"}
    assert user == "10001", "the chart's runAsUser"
    for run in runtime.all("RUN"):
        assert not COMPILERS.search(run), f"compiler in the runtime stage: {run}"
        assert "apt-get install" not in run
    copies_from_builder = [c for c in runtime.all("COPY") if c.startswith("--from=")]
    assert copies_from_builder == ["--from=builder /opt/pixtract /opt/pixtract"]
    env = " ".join(runtime.all("ENV"))
    assert "TMPDIR=/tmp" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env


@pytest.mark.parametrize("name", SERVICES)
def test_port_entrypoint_and_healthcheck_match_the_service(name: str) -> None:
    runtime = _dockerfile(name)[-1]
    port = SETTINGS[name].model_fields["port"].default
    assert runtime.all("EXPOSE") == [str(port)]
    assert f"PIXTRACT_{name.upper()}_PORT={port}" in " ".join(runtime.all("ENV"))
    assert f"PIXTRACT_{name.upper()}_HOST=0.0.0.0" in " ".join(runtime.all("ENV"))
    chart_values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert chart_values["services"][name]["port"] == port
    (entrypoint,) = runtime.all("ENTRYPOINT")
    command = json.loads(entrypoint)
    assert command == ["python", "-m", f"pixtract.{name}"]
    assert importlib.util.find_spec(f"pixtract.{name}.__main__") is not None
    (healthcheck,) = runtime.all("HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert "urllib.request" in healthcheck


# ----- the build context (.dockerignore) -------------------------------------------------


def _ignore_patterns() -> list[tuple[bool, str]]:
    patterns = []
    for raw in (REPO_ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            patterns.append((negate, line.lstrip("!").strip("/")))
    return patterns


def _pattern_matches(pattern: str, path: str) -> bool:
    """Docker's rule: a pattern matches the path or any of its parent directories."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    if pattern.startswith("**/"):
        tail = pattern[3:]
        return any(fnmatch.fnmatchcase(part, tail) for part in parts) or any(
            fnmatch.fnmatchcase("/".join(parts[i:]), tail) for i in range(len(parts))
        )
    return any(fnmatch.fnmatchcase(c, pattern) and c.count("/") == pattern.count("/") for c in candidates)


def in_build_context(path: str) -> bool:
    included = True
    for negate, pattern in _ignore_patterns():
        if _pattern_matches(pattern, path):
            included = negate
    return included


def test_the_dockerignore_matcher_follows_docker_rules() -> None:
    assert in_build_context("services/auth/src/pixtract/auth/app.py")
    assert in_build_context("requirements/constraints.txt")
    assert not in_build_context("requirements/dev.txt")
    assert not in_build_context(".venv/bin/python")
    assert not in_build_context("tests/unit/test_routes.py")
    assert not in_build_context("services/auth/src/pixtract/auth/__pycache__/app.cpython-311.pyc")
    assert not in_build_context("services/web/node_modules/x/index.js")


@pytest.mark.parametrize("name", SERVICES)
def test_every_file_of_the_service_packages_reaches_the_build(name: str) -> None:
    for package in ("common", name):
        root = REPO_ROOT / "services" / package
        files = [
            p.relative_to(REPO_ROOT).as_posix()
            for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith((".pyc", ".pyo"))
        ]
        assert files
        missing = [f for f in files if not in_build_context(f) and not f.endswith("/Dockerfile")]
        assert missing == []


@pytest.mark.parametrize("name", ["tagging", "ocr"])
def test_model_files_are_baked_into_the_image(name: str) -> None:
    # The models are package data of pixtract.<name> (or, for OCR, of the rapidocr wheel):
    # `pip install services/<name>` in the builder puts them into the image's venv.
    src = REPO_ROOT / "services" / name / "src" / "pixtract" / name
    models = [p for p in src.rglob("*") if p.suffix in {".onnx", ".json"} and p.is_file()]
    for model in models:
        relative = model.relative_to(REPO_ROOT).as_posix()
        assert in_build_context(relative)
        # hatchling leaves git-ignored files out of the wheel, and so out of the image.
        ignored = subprocess.run(["git", "check-ignore", "-q", relative], cwd=REPO_ROOT, check=False)
        assert ignored.returncode == 1, f"{relative} is git-ignored: the wheel would not carry it"
    if name == "tagging":
        assert any(m.suffix == ".onnx" for m in models), "the tagging model ships inside its package"
    else:
        spec = importlib.util.find_spec("rapidocr")
        assert spec is not None
        assert spec.origin is not None
        assert list(Path(spec.origin).parent.rglob("*.onnx")), "RapidOCR's models ship inside its wheel"
