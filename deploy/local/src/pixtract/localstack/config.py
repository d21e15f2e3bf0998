"""What the local stack runs, where its data lives and which ports it takes."""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from pathlib import Path

LOOPBACK = "127.0.0.1"

SERVICES: tuple[str, ...] = ("auth", "upload", "tagging", "ocr", "search")

# Each service owns its own database; the stateless ones get a shared default.
SERVICE_DATABASES: Mapping[str, str] = {"auth": "auth", "upload": "media", "tagging": "tagging", "ocr": "ocr"}

# SeaweedFS opens a gRPC port at each HTTP port + 10000. The `-admin.port.grpc` flag exists,
# but the worker inside `weed mini` dials the admin at admin port + 10000 whatever it says,
# so the launcher keeps that convention for every SeaweedFS component.
SEAWEEDFS_GRPC_OFFSET = 10000
# The SeaweedFS servers a stack runs, by component name: the media store and, when Kafka
# keeps its log on S3, Kafka's own store. Each maps its components to Ports fields.
_SEAWEEDFS_PORT_FIELDS: Mapping[str, dict[str, str]] = {
    "s3": {
        "master": "seaweedfs_master",
        "volume": "seaweedfs_volume",
        "filer": "seaweedfs_filer",
        "s3": "s3",
        "admin": "seaweedfs_admin",
    },
    "kafka-store": {
        "master": "kafka_store_master",
        "volume": "kafka_store_volume",
        "filer": "kafka_store_filer",
        "s3": "kafka_store",
        "admin": "kafka_store_admin",
    },
}
SEAWEEDFS_SERVERS = tuple(_SEAWEEDFS_PORT_FIELDS)


class StackError(RuntimeError):
    """The local stack could not do what was asked."""


class KafkaStorage(StrEnum):
    # On a SeaweedFS of its own (not the media store's): topics, messages and committed
    # offsets survive restarts, and an outage of the media store leaves Kafka alone.
    S3 = "s3"
    # Gone when Tansu stops: what tests want.
    MEMORY = "memory"


@dataclass(frozen=True)
class Ports:
    """Every TCP port the stack listens on, all on 127.0.0.1."""

    ingress: int = 8080
    auth: int = 8101
    upload: int = 8102
    tagging: int = 8103
    ocr: int = 8104
    search: int = 8105
    kafka: int = 9092
    mongo: int = 27017
    opensearch: int = 9200
    s3: int = 8333
    seaweedfs_master: int = 9333
    seaweedfs_volume: int = 9340
    seaweedfs_filer: int = 8888
    seaweedfs_admin: int = 23646
    # The SeaweedFS that holds Kafka's log when Kafka keeps it on S3 (KafkaStorage.S3).
    kafka_store: int = 8334
    kafka_store_master: int = 9334
    kafka_store_volume: int = 9341
    kafka_store_filer: int = 8889
    kafka_store_admin: int = 23647
    # Caddy's admin API is off unless a port is given.
    caddy_admin: int | None = None

    @staticmethod
    def env_name(component: str) -> str:
        return "PIXTRACT_PORT" if component == "ingress" else f"PIXTRACT_{component.upper()}_PORT"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Ports:
        environ = os.environ if environ is None else environ
        overrides: dict[str, int] = {}
        for f in fields(cls):
            raw = environ.get(cls.env_name(f.name))
            if raw is None or raw.strip() == "":
                continue
            try:
                overrides[f.name] = int(raw)
            except ValueError:
                raise StackError(f"{cls.env_name(f.name)}={raw!r} is not a port number") from None
        ports = replace(cls(), **overrides)
        ports.validate()
        return ports

    def seaweedfs(self, server: str = "s3") -> dict[str, int]:
        """SeaweedFS component -> HTTP port (its gRPC port is this + SEAWEEDFS_GRPC_OFFSET)."""
        return {component: getattr(self, name) for component, name in _seaweedfs_fields(server).items()}

    def seaweedfs_labels(self, server: str) -> list[str]:
        """Every port label one SeaweedFS server binds, its implicit gRPC ports included."""
        names = list(_seaweedfs_fields(server).values())
        return names + [f"{name}_grpc" for name in names]

    def listening(self) -> dict[str, int]:
        """Every port a full stack may bind, labelled, including SeaweedFS's implicit gRPC ones
        (the kafka-store's too, which runs only when Kafka keeps its log on S3)."""
        out: dict[str, int] = {}
        for f in fields(self):
            port = getattr(self, f.name)
            if port is not None:
                out[f.name] = port
        for server in SEAWEEDFS_SERVERS:
            for name in _seaweedfs_fields(server).values():
                out[f"{name}_grpc"] = getattr(self, name) + SEAWEEDFS_GRPC_OFFSET
        return out

    def validate(self) -> None:
        seen: dict[int, str] = {}
        for label, port in self.listening().items():
            if not 0 < port < 65536:
                raise StackError(f"port of {label} is {port}, outside 1..65535")
            if port in seen:
                raise StackError(f"{label} and {seen[port]} both want port {port}")
            seen[port] = label

    @classmethod
    def free(cls) -> Ports:
        """Ports that are free right now, for a stack beside any other (tests)."""
        names = [f.name for f in fields(cls) if f.name != "caddy_admin"]
        paired = {name for server in SEAWEEDFS_SERVERS for name in _seaweedfs_fields(server).values()}
        chosen: dict[str, int] = {}
        # Hold every probe socket until all ports are picked so no two names get the same one.
        with ExitStack() as held:
            for name in names:
                if name in paired:
                    chosen[name] = _reserve_pair(held)
                else:
                    sock = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    sock.bind((LOOPBACK, 0))
                    chosen[name] = sock.getsockname()[1]
        ports = cls(**chosen)
        ports.validate()
        return ports


def _seaweedfs_fields(server: str) -> dict[str, str]:
    """SeaweedFS component -> the Ports field of its HTTP port, for one of SEAWEEDFS_SERVERS."""
    try:
        return _SEAWEEDFS_PORT_FIELDS[server]
    except KeyError:
        raise StackError(f"unknown SeaweedFS server {server!r}; known: {', '.join(SEAWEEDFS_SERVERS)}") from None


def _reserve_pair(held: ExitStack) -> int:
    """A port P with P + SEAWEEDFS_GRPC_OFFSET also free; both stay bound in `held`."""
    rng = random.SystemRandom()
    for _ in range(200):
        # Below the usual ephemeral range (32768+) so outgoing connections rarely take them.
        port = rng.randrange(12000, 22000)
        socks: list[socket.socket] = []
        try:
            for p in (port, port + SEAWEEDFS_GRPC_OFFSET):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(sock)
                sock.bind((LOOPBACK, p))
        except OSError:
            for sock in socks:
                sock.close()
            continue
        for sock in socks:
            held.enter_context(sock)
        return port
    raise StackError("found no free port pair for SeaweedFS")


def free_port() -> int:
    """A port free right now (for a service replica, which has no field in Ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def instance_name(service: str, replica: int = 1) -> str:
    """The component name of one copy of a service: the service itself, then `<service>-2`, ..."""
    if replica < 1:
        raise StackError(f"replica numbers start at 1, not {replica}")
    return service if replica == 1 else f"{service}-{replica}"


def service_instance(component: str) -> tuple[str, int] | None:
    """The service and replica number a component is (None for the backing servers and the ingress)."""
    if component in SERVICES:
        return component, 1
    service, _, number = component.rpartition("-")
    if service in SERVICES and number.isdigit() and int(number) >= 2:
        return service, int(number)
    return None


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Without SO_REUSEADDR a port in TIME_WAIT also looks taken; the servers set it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def find_repo_root() -> Path:
    """The monorepo checkout: found from this package (editable install) or the working dir."""
    starts = [Path(__file__).resolve().parent, Path.cwd().resolve()]
    for start in starts:
        for candidate in (start, *start.parents):
            if (candidate / "deploy" / "routes.yaml").is_file():
                return candidate
    raise StackError("cannot find the Pixtract repository (no deploy/routes.yaml above this package or here)")


@dataclass
class StackConfig:
    data_dir: Path
    ports: Ports = field(default_factory=Ports)
    kafka_storage: KafkaStorage = KafkaStorage.S3
    # SeaweedFS must always run with credentials: without them it accepts any signature.
    s3_access_key_id: str = "pixtract"
    s3_secret_access_key: str = "pixtract-dev-secret"  # noqa: S105 - the documented dev secret
    s3_region: str = "us-east-1"
    media_bucket: str = "pixtract-media"
    kafka_bucket: str = "tansu"
    services: tuple[str, ...] = SERVICES
    # Extra environment per service name, applied last (tests turn knobs with it).
    service_extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    routes_file: Path | None = None
    # None: the repo's services/web/dist when it exists, else a built-in placeholder page.
    web_dist: Path | None = None
    infra_ready_timeout_s: float = 30.0
    service_ready_timeout_s: float = 120.0
    # SeaweedFS alone takes about 4 s to stop cleanly (filer, then volume server).
    stop_timeout_s: float = 10.0
    seaweedfs_memory_limit: str = "256MiB"
    mongo_cache_size: str = "256M"

    def __post_init__(self) -> None:
        unknown = set(self.services) - set(SERVICES)
        if unknown:
            raise StackError(f"unknown services {sorted(unknown)}; known: {', '.join(SERVICES)}")
        self.ports.validate()

    @classmethod
    def from_env(cls, data_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> StackConfig:
        """The `make up` stack: ports from PIXTRACT_*_PORT, data in PIXTRACT_DATA_DIR or <repo>/.data."""
        environ = os.environ if environ is None else environ
        if data_dir is None:
            raw = environ.get("PIXTRACT_DATA_DIR")
            data_dir = Path(raw) if raw else find_repo_root() / ".data"
        return cls(data_dir=data_dir.resolve(), ports=Ports.from_env(environ))

    @classmethod
    def for_tests(cls, data_dir: Path, services: tuple[str, ...] = SERVICES) -> StackConfig:
        return cls(
            data_dir=data_dir.resolve(),
            ports=Ports.free(),
            kafka_storage=KafkaStorage.MEMORY,
            services=services,
        )

    def resolved_routes_file(self) -> Path:
        return self.routes_file or find_repo_root() / "deploy" / "routes.yaml"

    def resolved_web_dist(self) -> Path | None:
        if self.web_dist is not None:
            return self.web_dist
        try:
            dist = find_repo_root() / "services" / "web" / "dist"
        except StackError:
            return None
        return dist if dist.is_dir() else None

    # Where each component keeps its files.
    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "localstack.lock"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "localstack.json"

    def log_path(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"


def iter_busy_ports(ports: Mapping[str, int]) -> Iterator[tuple[str, int]]:
    for label, port in ports.items():
        if port_in_use(port):
            yield label, port
