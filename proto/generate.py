"""Generate the committed Python for the event contracts.

`make proto` runs this: protoc (from grpcio-tools) writes `*_pb2.py` and `*_pb2.pyi` for
every `.proto` under proto/, and the topic registry `proto/topics.yaml` becomes
`pixtract/events/topics.py`. With `--check` it generates into a scratch folder and fails
when the committed files differ, so drift between proto/ and services/common is caught.
"""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc_tools
import yaml

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "services" / "common" / "src"
GENERATED_PACKAGE = Path("pixtract") / "events"

TOPICS_TEMPLATE = '''"""Topic registry generated from proto/topics.yaml by `make proto`. Do not edit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from pixtract.events.v1 import images_pb2, users_pb2

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class Topic(Generic[M]):
    name: str
    key: str
    message_type: type[M]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    partitions: int
    retention_hours: int

    @property
    def dlq(self) -> str:
        """The dead-letter topic that takes this topic's poison messages."""
        return f"{{self.name}}.dlq"


{constants}

TOPICS: dict[str, Topic[Any]] = {{
    t.name: t
    for t in (
{names}
    )
}}
'''


def _constant_name(topic_name: str) -> str:
    return topic_name.upper().replace(".", "_")


def render_topics(registry_path: Path) -> str:
    registry = yaml.safe_load(registry_path.read_text())
    constants = []
    names = []
    for topic in registry["topics"]:
        module = {"images": "images_pb2", "users": "users_pb2"}[topic["name"].split(".")[0]]
        message = topic["message"].rsplit(".", 1)[1]
        const = _constant_name(topic["name"])
        names.append(const)
        constants.append(
            f"{const}: Topic[{module}.{message}] = Topic(\n"
            f"    name={topic['name']!r},\n"
            f"    key={topic['key']!r},\n"
            f"    message_type={module}.{message},\n"
            f"    producers={tuple(topic['producers'])!r},\n"
            f"    consumers={tuple(topic['consumers'])!r},\n"
            f"    partitions={int(topic['partitions'])},\n"
            f"    retention_hours={int(topic['retention_hours'])},\n"
            ")"
        )
    return TOPICS_TEMPLATE.format(
        constants="\n".join(constants), names="".join(f"        {n},\n" for n in names).rstrip("\n")
    )


def generate(out_dir: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    plugin = Path(sys.executable).parent / "protoc-gen-mypy"
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"-I{well_known}",
            f"--python_out={out_dir}",
            f"--plugin=protoc-gen-mypy={plugin}",
            f"--mypy_out={out_dir}",
            *protos,
        ],
        check=True,
        cwd=PROTO_DIR,
    )
    topics_py = out_dir / GENERATED_PACKAGE / "topics.py"
    topics_py.write_text(render_topics(PROTO_DIR / "topics.yaml"))
    # Committed code is ruff-formatted like the rest of the tree, so format what we write.
    ruff = Path(sys.executable).parent / "ruff"
    subprocess.run([ruff, "format", "--quiet", "--isolated", "--line-length", "120", topics_py], check=True)  # noqa: S603


def generated_files(root: Path) -> list[Path]:
    pkg = root / GENERATED_PACKAGE
    return sorted(p.relative_to(root) for p in [*pkg.rglob("*_pb2.py"), *pkg.rglob("*_pb2.pyi"), pkg / "topics.py"])


def check() -> list[str]:
    """Return the generated files that differ from a fresh generation (empty when clean)."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch_root = Path(scratch)
        (scratch_root / GENERATED_PACKAGE / "v1").mkdir(parents=True)
        generate(scratch_root)
        fresh = generated_files(scratch_root)
        committed = generated_files(OUT_DIR)
        problems = [f"missing: {p}" for p in fresh if p not in committed]
        problems += [f"stale (no .proto): {p}" for p in committed if p not in fresh]
        problems += [
            f"differs: {p}"
            for p in fresh
            if p in committed and not filecmp.cmp(scratch_root / p, OUT_DIR / p, shallow=False)
        ]
        return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if committed code drifted")
    args = parser.parse_args()
    if args.check:
        problems = check()
        if problems:
            print("generated event code drifted from proto/; run `make proto`:", *problems, sep="\n  ")
            raise SystemExit(1)
        print("generated event code matches proto/")
    else:
        generate(OUT_DIR)


if __name__ == "__main__":
    main()
