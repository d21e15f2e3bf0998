"""Micro-batching: images that wait together run as one batch; a failure reaches every waiter."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numpy.typing import NDArray

from pixtract.tagging.adapters.onnx_classifier import MicroBatcher


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


def _tensor(value: float) -> NDArray[np.float32]:
    return np.full((3, 2, 2), value, dtype=np.float32)


async def test_images_waiting_together_run_as_one_batch(executor: ThreadPoolExecutor) -> None:
    release = threading.Event()
    sizes: list[int] = []

    def predict(batch: NDArray[np.float32]) -> NDArray[np.float32]:
        sizes.append(len(batch))
        if len(sizes) == 1:
            release.wait(5)  # the first batch is slow: others queue up meanwhile
        return batch.reshape(len(batch), -1)[:, :1]

    batcher = MicroBatcher(predict, executor, max_batch=4, max_wait_s=0.001, concurrency=1)
    first = asyncio.create_task(batcher(_tensor(0)))
    await asyncio.sleep(0.05)
    rest = [asyncio.create_task(batcher(_tensor(v))) for v in range(1, 7)]
    await asyncio.sleep(0.05)
    release.set()
    results = await asyncio.gather(first, *rest)
    assert [float(r[0]) for r in results] == [0, 1, 2, 3, 4, 5, 6]
    assert sizes == [1, 4, 2]
    await batcher.aclose()


async def test_a_lone_image_waits_at_most_max_wait(executor: ThreadPoolExecutor) -> None:
    batcher = MicroBatcher(lambda b: b.reshape(len(b), -1), executor, max_batch=16, max_wait_s=0.01)
    started = asyncio.get_running_loop().time()
    await batcher(_tensor(1))
    assert asyncio.get_running_loop().time() - started < 1.0
    assert batcher.batch_sizes == [1]
    await batcher.aclose()


async def test_a_failing_batch_fails_each_waiting_image(executor: ThreadPoolExecutor) -> None:
    def predict(batch: NDArray[np.float32]) -> NDArray[np.float32]:
        raise RuntimeError("onnxruntime said no")

    batcher = MicroBatcher(predict, executor, max_batch=4, max_wait_s=0.02)
    results = await asyncio.gather(batcher(_tensor(1)), batcher(_tensor(2)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    # The batcher keeps working after a failure.
    batcher.predict = lambda b: b.reshape(len(b), -1)
    assert float((await batcher(_tensor(3)))[0]) == 3
    await batcher.aclose()
