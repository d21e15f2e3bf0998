"""What the benchmarks read from a running Pixtract besides its public API.

- CPU seconds of its processes, from /proc: unlike rates, they do not change when other
  programs compete for the same cores.
- The services' Prometheus metrics (`/metrics` on each service's own port), as snapshots
  that can be subtracted: a run's handler time is `after - before`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def sign_in(http: httpx.Client) -> dict[str, str]:
    """A new user's authorisation header: every run starts with nothing stored."""
    email, password = f"bench-{uuid.uuid4().hex[:10]}@example.org", "benchmark passphrase 2026"
    http.post("/api/v1/auth/register", json={"email": email, "password": password}).raise_for_status()
    login = http.post("/api/v1/auth/login", json={"email": email, "password": password})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


# ----- CPU ----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@contextmanager
def cpu_used(pids: Mapping[str, int]) -> Iterator[dict[str, float]]:
    """CPU seconds each process spent inside the block (filled in when it ends)."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    used: dict[str, float] = {}
    try:
        yield used
    finally:
        used.update({name: cpu_seconds(pid) - before[name] for name, pid in pids.items()})


# ----- Prometheus ---------------------------------------------------------------------------

Labels = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Metrics:
    """One scrape: sample name and labels -> value (histograms as their _sum/_count/_bucket samples)."""

    samples: Mapping[tuple[str, Labels], float]

    def __sub__(self, before: Metrics) -> Metrics:
        """What changed since `before` (counters and histograms; a gauge keeps its value here)."""
        return Metrics({key: value - before.samples.get(key, 0.0) for key, value in self.samples.items()})

    def total(self, name: str, **labels: str) -> float:
        """The sum of every sample called `name` whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(value for (sample, have), value in self.samples.items() if sample == name and wanted <= have)

    def label_values(self, name: str, label: str, **labels: str) -> set[str]:
        wanted = set(labels.items())
        return {
            dict(have)[label]
            for (sample, have), _ in self.samples.items()
            if sample == name and wanted <= have and label in dict(have)
        }

    def merged(self, other: Metrics) -> Metrics:
        """Two processes' samples added up (replicas of one service)."""
        out = dict(self.samples)
        for key, value in other.samples.items():
            out[key] = out.get(key, 0.0) + value
        return Metrics(out)


def scrape(base_url: str) -> Metrics:
    text = httpx.get(base_url + "/metrics", timeout=10, trust_env=False).raise_for_status().text
    samples: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = float(sample.value)
    return Metrics(samples)


def handler_seconds(metrics: Metrics, group: str, topic: str | None = None) -> tuple[int, float]:
    """Events a consumer group handled and the seconds its handlers took (retries not counted)."""
    labels = {"group": group} if topic is None else {"group": group, "topic": topic}
    count = metrics.total("pixtract_event_handler_seconds_count", **labels)
    return round(count), metrics.total("pixtract_event_handler_seconds_sum", **labels)


def request_seconds(metrics: Metrics, method: str, route: str) -> tuple[int, float]:
    """Requests a service answered on one route and the seconds they took."""
    count = metrics.total("pixtract_http_request_seconds_count", method=method, route=route)
    return round(count), metrics.total("pixtract_http_request_seconds_sum", method=method, route=route)
