"""Tagging throughput and latency: the service's whole per-image path against the bare model.

Runs in one process on one core (one pool worker, one onnxruntime thread, OMP_NUM_THREADS=1),
on scikit-image's sample photos as JPEG bytes:

- bare: the EfficientNet-Lite0 ONNX session alone on ready-made input tensors;
- service: what the tagging handler does with an image's bytes minus the network: decode,
  colours, pHash, faces, the classifier's input, micro-batched inference, label rules and
  categories.

Batch 1 runs one image at a time; batch 16 keeps 16 images in flight (the service's
micro-batcher then runs them as one batch). Images per second per core are counted on the
process's CPU time (robust when other work shares the machine), latencies on the wall
clock (they are not: the load average is printed with them). The ratio bare/service is the
service's overhead per image. Also prints peak RSS and each sample's top-5 classes and
final labels.

    python -m bench.tagging [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import skimage.data
from PIL import Image

from pixtract.tagging.adapters.onnx_classifier import OnnxClassifier
from pixtract.tagging.config import LabelSettings, Settings
from pixtract.tagging.consumers.uploaded import TaggingTools
from pixtract.tagging.domain.analysis import analyse_image
from pixtract.tagging.domain.categories import categorise
from pixtract.tagging.domain.classification import model_input
from pixtract.tagging.domain.labels import (
    LabelHierarchy,
    LabelRequest,
    person_labels,
    softmax_top,
)
from pixtract.tagging.pipeline import tagging_tools

SAMPLES = ("astronaut", "camera", "chelsea", "coffee", "rocket", "coins", "hubble_deep_field", "immunohistochemistry")
BATCH = 16


def sample_jpeg(name: str) -> bytes:
    pixels = getattr(skimage.data, name)()
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    out = io.BytesIO()
    Image.fromarray(pixels[:, :, :3]).save(out, format="JPEG", quality=90)
    return out.getvalue()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def bare(classifier: OnnxClassifier, tensors: list[np.ndarray], rounds: int) -> dict[str, float]:
    latencies = []
    cpu = time.process_time()
    for _ in range(rounds):
        for tensor in tensors:
            started = time.perf_counter()
            classifier.predict(tensor[np.newaxis])
            latencies.append(time.perf_counter() - started)
    single_cpu = time.process_time() - cpu
    batch = np.stack([tensors[i % len(tensors)] for i in range(BATCH)])
    cpu = time.process_time()
    batches = max(1, rounds * len(tensors) // BATCH)
    for _ in range(batches):
        classifier.predict(batch)
    batched_cpu = time.process_time() - cpu
    return {
        "b1_ips": len(latencies) / single_cpu,
        "b16_ips": batches * BATCH / batched_cpu,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


async def service(
    tools: TaggingTools, executor: ThreadPoolExecutor, images: list[bytes], rounds: int
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    assert tools.labels is not None
    source = tools.labels

    async def tag(data: bytes) -> float:
        started = time.perf_counter()
        analysis = await loop.run_in_executor(
            executor, lambda: analyse_image(data, max_pixels=10**8, faces=tools.faces)
        )
        labels = await source.labels(LabelRequest(analysis.tensor, data, "media", "key"))
        labels += person_labels([f.confidence for f in analysis.faces])
        categorise(labels, len(analysis.faces), "", tools.rules)
        return time.perf_counter() - started

    latencies = []
    cpu = time.process_time()
    for _ in range(rounds):
        for data in images:
            latencies.append(await tag(data))
    sequential_cpu = time.process_time() - cpu

    async def in_flight(count: int, run: Callable[[bytes], Awaitable[float]]) -> float:
        queue = [images[i % len(images)] for i in range(rounds * len(images))]
        slots = asyncio.Semaphore(count)

        async def one(data: bytes) -> float:
            async with slots:
                return await run(data)

        begun = time.process_time()
        await asyncio.gather(*(one(d) for d in queue))
        return len(queue) / (time.process_time() - begun)

    return {
        "b1_ips": len(latencies) / sequential_cpu,
        "b16_ips": await in_flight(BATCH, tag),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
    }


async def run(rounds: int) -> None:
    settings = Settings(workers=1, labels=LabelSettings(intra_op_threads=1, max_batch=BATCH, max_wait_ms=5))
    images = [sample_jpeg(name) for name in SAMPLES]
    tensors = [model_input(Image.open(io.BytesIO(data))) for data in images]
    hierarchy = LabelHierarchy.load(settings.labels.hierarchy_path)

    classifier = OnnxClassifier(settings.labels.model_path, intra_op_threads=1)
    classifier.predict(np.stack(tensors[:2]))  # warm up
    bare_figures = bare(classifier, tensors, rounds)
    bare_rss = peak_rss_mib()

    with ThreadPoolExecutor(max_workers=1) as executor:
        async with tagging_tools(settings, executor) as tools:
            await service(tools, executor, images[:2], 1)  # warm up
            service_figures = await service(tools, executor, images, rounds)
            load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
            print(f"tagging bench: {len(SAMPLES)} sample photos x {rounds} rounds, 1 worker, 1 onnxruntime thread")
            print(
                f"load average {load} on {os.cpu_count()} cores; img/s per core on CPU time, latency on the wall clock"
            )
            print(f"{'':10}{'img/s b1':>10}{'img/s b16':>11}{'p50 ms':>9}{'p99 ms':>9}")
            for name, figures in (("bare ONNX", bare_figures), ("service", service_figures)):
                print(
                    f"{name:10}{figures['b1_ips']:>10.1f}{figures['b16_ips']:>11.1f}"
                    f"{figures['p50_ms']:>9.1f}{figures['p99_ms']:>9.1f}"
                )
            print(
                f"ratio bare/service: batch 1 {bare_figures['b1_ips'] / service_figures['b1_ips']:.2f}x, "
                f"batch 16 {bare_figures['b16_ips'] / service_figures['b16_ips']:.2f}x"
            )
            print(
                f"peak RSS: {bare_rss:.0f} MiB after the bare session, {peak_rss_mib():.0f} MiB after the service path"
            )
            print()
            assert tools.labels is not None
            for name, data, tensor in zip(SAMPLES, images, tensors, strict=True):
                top5 = softmax_top(classifier.predict(tensor[np.newaxis])[0], hierarchy, 5)
                analysis = analyse_image(data, max_pixels=10**8, faces=tools.faces)
                labels = await tools.labels.labels(LabelRequest(analysis.tensor, data, "media", "key"))
                labels += person_labels([f.confidence for f in analysis.faces])
                categories = categorise(labels, len(analysis.faces), "", tools.rules).categories
                print(f"{name}: top-5 " + ", ".join(f"{n} {p:.3f}" for n, p in top5))
                print(
                    f"  labels {[f'{lb.name} {lb.confidence:.2f}' for lb in labels]}, faces {len(analysis.faces)}, "
                    f"categories {list(categories)}"
                )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args(argv)
    asyncio.run(run(args.rounds))


if __name__ == "__main__":
    main()
