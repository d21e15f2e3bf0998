"""A soak: mixed traffic from several users for a while, with the resident memory of every
process of the stack sampled throughout.

Each user, in a loop with a bounded rate: lists its images, searches a word of its texts,
asks for suggestions, reads an image, its thumbnail and its content, now and then uploads a
photo or a text image (sometimes bytes it uploaded before) and now and then deletes one.
Uploads are paced below what OCR keeps up with on two cores, so the run measures a steady
state, not a growing backlog. Asserted: no answer is a 5xx, every upload that stayed ends
`ready`, and no Pixtract service (nor the ingress) grows past the bound below between the
end of the warm-up and the end of the run. The backing servers are reported, not bounded
here: their memory follows the data they hold, up to caps of their own (SecantusDB's cache
size, SeaweedFS's GOMEMLIMIT).

`make test` runs it for SOAK_SECONDS (2 minutes); `make soak` for 15 minutes
(PIXTRACT_SOAK_SECONDS=900), and prints the memory figures either way.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.e2e.client import PixtractClient, photo_jpeg, text_png

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

SOAK_SECONDS = float(os.environ.get("PIXTRACT_SOAK_SECONDS", "120"))
USERS = 4
# A user's pause between two steps: about 2 requests a second each, 8 in all.
STEP_PAUSE_S = 0.5
SAMPLE_EVERY_S = 2.0
# The first quarter warms caches, pools and model arenas up; growth is measured after it.
WARM_UP_SHARE = 0.25
# The bound: the median of the last quarter may exceed the median of the second quarter by
# this share plus this many MiB (allocator noise on a small process).
GROWTH_SHARE = 0.20
GROWTH_MIB = 40
# Share of steps that upload: about 0.7 uploads/s from all users.
UPLOAD_SHARE = 0.15
# What the bound applies to: the processes Pixtract's own code runs in.
BOUNDED = frozenset({"auth", "upload", "tagging", "ocr", "search", "ingress"})
WORDS = ("harbour", "lantern", "meadow", "copper", "violet", "saffron", "glacier", "orchard")


@dataclass
class Session:
    """A user's tokens; access tokens last 15 minutes, so a long soak renews them as the
    gallery does: on a 401, with the refresh token, once."""

    access_token: str
    refresh_token: str

    async def request(self, http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await http.request(method, url, headers=self._auth(), **kwargs)
        if response.status_code == 401:
            renewed = await http.post("/api/v1/auth/refresh", json={"refresh_token": self.refresh_token})
            assert renewed.status_code == 200, renewed.text
            self.access_token, self.refresh_token = renewed.json()["access_token"], renewed.json()["refresh_token"]
            response = await http.request(method, url, headers=self._auth(), **kwargs)
        return response

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@dataclass
class Traffic:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    kept: dict[str, Session] = field(default_factory=dict)  # image id -> its owner
    uploads: int = 0
    deletes: int = 0

    def saw(self, what: str, response: httpx.Response) -> None:
        self.statuses[(what, response.status_code)] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{what}: {response.status_code} {response.text[:200]}")


async def _user(base_url: str, session: Session, seed: int, traffic: Traffic, stop_at: float) -> None:
    rng = random.Random(seed)
    mine: list[str] = []
    sent: list[tuple[str, bytes]] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=120.0) as http:

        async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
            return await session.request(http, method, url, **kwargs)

        step = 0
        while time.monotonic() < stop_at:
            step += 1
            if not mine or rng.random() < UPLOAD_SHARE:
                if sent and rng.random() < 0.15:
                    name, data = rng.choice(sent)  # the same bytes again: a duplicate
                elif rng.random() < 0.4:
                    word = rng.choice(WORDS)
                    lines = [f"Soak {word} note {seed}", f"Entry {step:05d}"]
                    name, data = f"note-{seed}-{step}.png", text_png(lines)
                else:
                    name, data = f"photo-{seed}-{step}.jpg", photo_jpeg(seed * 100_000 + step)
                files = [("files", (name, data, "application/octet-stream"))]
                response = await call("POST", "/api/v1/images", files=files)
                traffic.saw("upload", response)
                if response.status_code == 201:
                    traffic.uploads += 1
                    sent.append((name, data))
                    image_id = response.json()["images"][0]["id"]
                    if image_id not in mine:
                        mine.append(image_id)
                        traffic.kept[image_id] = session
            traffic.saw("list", await call("GET", "/api/v1/images", params={"limit": 30}))
            traffic.saw("search", await call("GET", "/api/v1/search", params={"q": rng.choice(WORDS)}))
            traffic.saw("suggest", await call("GET", "/api/v1/search/suggest", params={"q": rng.choice(WORDS)[:2]}))
            if mine:
                image_id = rng.choice(mine)
                traffic.saw("read", await call("GET", f"/api/v1/images/{image_id}"))
                traffic.saw(
                    "thumbnail", await call("GET", f"/api/v1/images/{image_id}/thumbnail", params={"size": "small"})
                )
                traffic.saw("content", await call("GET", f"/api/v1/images/{image_id}/content"))
                if rng.random() < 0.08:
                    response = await call("DELETE", f"/api/v1/images/{image_id}")
                    traffic.saw("delete", response)
                    if response.status_code == 204:
                        traffic.deletes += 1
                        mine.remove(image_id)
                        traffic.kept.pop(image_id, None)
            await asyncio.sleep(STEP_PAUSE_S)


async def _sample_memory(handle: Any, samples: list[tuple[float, dict[str, int]]], stop_at: float) -> None:
    started = time.monotonic()
    while time.monotonic() < stop_at:
        rss = {name: kib for name, kib in handle.rss_kib().items() if kib is not None}
        samples.append((time.monotonic() - started, rss))
        await asyncio.sleep(SAMPLE_EVERY_S)


def _quarter_median(samples: list[tuple[float, dict[str, int]]], name: str, quarter: int) -> float:
    start, end = SOAK_SECONDS * quarter / 4, SOAK_SECONDS * (quarter + 1) / 4
    values = [rss[name] for at, rss in samples if start <= at < end and name in rss]
    return statistics.median(values) / 1024


def test_mixed_traffic_keeps_memory_bounded_and_loses_nothing(stack: Any) -> None:
    if stack.handle is None:
        pytest.skip("memory is sampled from the processes this test run started; PIXTRACT_E2E_BASE_URL is set")
    sessions = []
    for _ in range(USERS):
        client = PixtractClient(stack.base_url)
        client.sign_up()
        sessions.append(Session(str(client.token), str(client.refresh_token)))
        client.close()
    traffic = Traffic()
    samples: list[tuple[float, dict[str, int]]] = []

    async def run() -> None:
        stop_at = time.monotonic() + SOAK_SECONDS
        await asyncio.gather(
            _sample_memory(stack.handle, samples, stop_at),
            *(_user(stack.base_url, session, n + 1, traffic, stop_at) for n, session in enumerate(sessions)),
        )

    asyncio.run(run())

    report = []
    grown = {}
    for name in sorted(samples[-1][1]):
        settled = _quarter_median(samples, name, 1)
        final = _quarter_median(samples, name, 3)
        peak = max(rss.get(name, 0) for _, rss in samples) / 1024
        report.append(f"{name} {settled:.0f} -> {final:.0f} MiB (peak {peak:.0f})")
        if name in BOUNDED and final > settled * (1 + GROWTH_SHARE) + GROWTH_MIB:
            grown[name] = (round(settled), round(final))
    requests = sum(traffic.statuses.values())
    print(
        f"soak {SOAK_SECONDS:.0f} s, {USERS} users: {requests} requests ({requests / SOAK_SECONDS:.1f}/s), "
        f"{traffic.uploads} uploads, {traffic.deletes} deletes, {len(traffic.kept)} images kept; "
        f"answers {dict(sorted(traffic.statuses.items()))}; RSS after warm-up -> end: {'; '.join(report)}"
    )
    assert traffic.server_errors == []
    assert traffic.uploads > 0
    # Every answer a user saw was what it asked for (401s were renewed and asked again).
    assert {status for (_, status) in traffic.statuses} <= {200, 201, 204, 307}, traffic.statuses
    client = PixtractClient(stack.base_url)
    try:
        for session in sessions:  # a 15-minute soak outlives the last access token it got
            renewed = client.http.post("/api/v1/auth/refresh", json={"refresh_token": session.refresh_token})
            assert renewed.status_code == 200, renewed.text
            session.access_token = renewed.json()["access_token"]
        for image_id, session in traffic.kept.items():
            client.token = session.access_token
            client.wait_ready(image_id)
    finally:
        client.close()
    assert grown == {}, f"grew past {GROWTH_SHARE:.0%} + {GROWTH_MIB} MiB: {grown}"
