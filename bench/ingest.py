"""Upload-to-ready latency through the whole system, against the bare model time.

Starts the local stack on free ports (or uses `PIXTRACT_BENCH_BASE_URL`), uploads text
images one at a time and waits for each to be `ready`; then runs the OCR engine alone on
the same images in this process. The ratio says how much of the end-to-end latency the
pipeline (HTTP, S3, Kafka, Mongo, index) adds on top of the models' own time.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from PIL import Image, ImageDraw, ImageFont

from pixtract.localstack import Stack, StackConfig


def text_image(n: int) -> bytes:
    image = Image.new("RGB", (1000, 400), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=40)
    for row, line in enumerate([f"Receipt number {n:04d}", "Coffee 3.20  Bagel 2.80", f"TOTAL {6 + n % 7}.00 EUR"]):
        draw.text((40, 40 + row * 90), line, fill=(15, 15, 15), font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def sign_in(http: httpx.Client) -> dict[str, str]:
    email, password = f"bench-{uuid.uuid4().hex[:10]}@example.org", "benchmark passphrase 2026"
    http.post("/api/v1/auth/register", json={"email": email, "password": password}).raise_for_status()
    login = http.post("/api/v1/auth/login", json={"email": email, "password": password})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def upload_to_ready(http: httpx.Client, auth: dict[str, str], data: bytes) -> tuple[float, float]:
    """Seconds for the upload request, and from its start until the image is ready."""
    started = time.perf_counter()
    response = http.post("/api/v1/images", files=[("files", ("r.png", data, "image/png"))], headers=auth)
    response.raise_for_status()
    uploaded = time.perf_counter() - started
    image_id = response.json()["images"][0]["id"]
    while True:
        state = http.get(f"/api/v1/images/{image_id}", headers=auth).json()["state"]
        if state == "ready":
            return uploaded, time.perf_counter() - started
        if state == "failed" or time.perf_counter() - started > 120:
            raise RuntimeError(f"image {image_id} ended {state}")
        time.sleep(0.02)


def bare_ocr_seconds(images: list[bytes]) -> list[float]:
    from pixtract.ocr.adapters.rapid import RapidOcrEngine
    from pixtract.ocr.domain.ocr import extract_text

    engine = RapidOcrEngine()
    extract_text(engine, images[0], max_pixels=100_000_000, max_side=2400)  # warm-up
    timings = []
    for data in images:
        started = time.perf_counter()
        extract_text(engine, data, max_pixels=100_000_000, max_side=2400)
        timings.append(time.perf_counter() - started)
    return timings


def run(base_url: str, count: int) -> None:
    images = [text_image(n) for n in range(count + 1)]
    with httpx.Client(base_url=base_url, timeout=60) as http:
        auth = sign_in(http)
        upload_to_ready(http, auth, images[-1])  # warm-up: first requests load models and caches
        results = [upload_to_ready(http, auth, data) for data in images[:count]]
    uploads = [u for u, _ in results]
    ready = [r for _, r in results]
    ocr = bare_ocr_seconds(images[:count])
    p50_ready, p50_ocr = statistics.median(ready), statistics.median(ocr)
    print(f"ingest: {count} text images, one at a time, through {base_url}")
    print(f"  upload request    p50 {statistics.median(uploads) * 1000:7.1f} ms  max {max(uploads) * 1000:7.1f} ms")
    print(f"  upload → ready    p50 {p50_ready * 1000:7.1f} ms  max {max(ready) * 1000:7.1f} ms")
    print(f"  bare OCR (same)   p50 {p50_ocr * 1000:7.1f} ms  max {max(ocr) * 1000:7.1f} ms")
    print(f"  ratio ready/OCR   {p50_ready / p50_ocr:5.2f}x  (pipeline overhead {(p50_ready - p50_ocr) * 1000:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=int(os.environ.get("PIXTRACT_BENCH_COUNT", "10")))
    args = parser.parse_args()
    base_url = os.environ.get("PIXTRACT_BENCH_BASE_URL")
    if base_url:
        run(base_url, args.count)
        return
    with (
        tempfile.TemporaryDirectory(prefix="pixtract-bench-") as data_dir,
        Stack(StackConfig.for_tests(Path(data_dir))) as stack,
    ):
        stack.start_infra()
        stack.start_services()
        stack.start_ingress()
        run(stack.endpoints.ingress_url, args.count)
        rss = stack.rss_kib()
        print("  resident memory at the end (MiB): " + ", ".join(f"{k} {v / 1024:.0f}" for k, v in rss.items() if v))


if __name__ == "__main__":
    main()
