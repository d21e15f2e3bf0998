"""EfficientNet-Lite0 on onnxruntime, with micro-batching.

The model file ships in the package (`make models` writes it) beside its sha256; a file
that does not match is refused before any inference, so a truncated or swapped model can
never label images. asyncio is a bottleneck for inference, so sessions run in the service's
thread pool; when several images wait, they run as one batch (a batch of 16 costs less per
image than 16 single runs, and a lone image waits at most `max_wait_s` for company).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from pixtract.tagging.domain.labels import Label, LabelHierarchy, LabelRequest, LabelRules, labels_from_probabilities

Probabilities = NDArray[np.float32]


class ModelMismatch(RuntimeError):
    """The model file is missing or does not match its recorded sha256."""


def verify_model(path: Path, sha256_path: Path | None = None) -> str:
    """The file's sha256, after checking it against `<path>.sha256` (as sha256sum writes it)."""
    sha256_path = sha256_path or path.with_name(path.name + ".sha256")
    try:
        expected = sha256_path.read_text(encoding="ascii").split()[0].lower()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except (OSError, IndexError) as exc:
        raise ModelMismatch(f"cannot check {path}: {exc}") from exc
    if digest != expected:
        raise ModelMismatch(f"{path} has sha256 {digest}, expected {expected}: run `make models` or restore the file")
    return digest


class OnnxClassifier:
    """One onnxruntime session: thread-safe for concurrent `run` calls."""

    def __init__(self, path: Path, *, intra_op_threads: int = 1) -> None:
        self.sha256 = verify_model(path)
        self.version = f"{path.stem.replace('_', '-')}-{self.sha256[:8]}"
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def predict(self, batch: NDArray[np.float32]) -> Probabilities:
        """Class probabilities (N x 1000) for N x 3 x 224 x 224 inputs."""
        [probabilities] = self._session.run(None, {self._input: batch})
        result: Probabilities = np.asarray(probabilities, dtype=np.float32)
        return result


@dataclass
class _Waiting:
    tensor: NDArray[np.float32]
    future: asyncio.Future[Probabilities]


@dataclass
class MicroBatcher:
    """Collects single images into batches for `predict`, run in `executor`.

    The first waiting image opens a batch; it closes when `max_batch` images wait or
    `max_wait_s` has passed. At most `concurrency` batches run at once; while they do, new
    images queue up and become the next batch, so batches grow with load by themselves.
    """

    predict: Callable[[NDArray[np.float32]], Probabilities]
    executor: Executor
    max_batch: int = 16
    max_wait_s: float = 0.005
    concurrency: int = 1
    _queue: asyncio.Queue[_Waiting] = field(default_factory=asyncio.Queue, init=False)
    _collector: asyncio.Task[None] | None = field(default=None, init=False)
    _running: set[asyncio.Task[None]] = field(default_factory=set, init=False)
    _slots: asyncio.Semaphore | None = field(default=None, init=False)
    batch_sizes: list[int] = field(default_factory=list, init=False)

    async def __call__(self, tensor: NDArray[np.float32]) -> Probabilities:
        if self._collector is None or self._collector.done():
            self._slots = asyncio.Semaphore(self.concurrency)
            self._collector = asyncio.create_task(self._collect(), name="micro-batcher")
        future: asyncio.Future[Probabilities] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Waiting(tensor, future))
        return await future

    async def aclose(self) -> None:
        if self._collector is not None:
            self._collector.cancel()
            await asyncio.gather(self._collector, return_exceptions=True)
        await asyncio.gather(*self._running, return_exceptions=True)
        while not self._queue.empty():
            waiting = self._queue.get_nowait()
            waiting.future.cancel()

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._slots is not None
        while True:
            await self._slots.acquire()
            batch = [await self._queue.get()]
            deadline = loop.time() + self.max_wait_s
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            task = asyncio.create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[_Waiting]) -> None:
        assert self._slots is not None
        try:
            self.batch_sizes.append(len(batch))
            del self.batch_sizes[:-1000]
            stacked = np.stack([w.tensor for w in batch])
            loop = asyncio.get_running_loop()
            try:
                probabilities = await loop.run_in_executor(self.executor, self.predict, stacked)
            except Exception as exc:  # the waiting handlers decide what a failure means
                for waiting in batch:
                    if not waiting.future.done():
                        waiting.future.set_exception(exc)
                return
            for waiting, row in zip(batch, probabilities, strict=True):
                if not waiting.future.done():
                    waiting.future.set_result(row)
        finally:
            self._slots.release()


@dataclass
class OnnxLabelSource:
    """Labels from the local classifier: batched inference, then the hierarchy and rules."""

    batcher: MicroBatcher
    hierarchy: LabelHierarchy
    rules: LabelRules
    version: str
    floor: float | None = None
    top_k: int | None = None

    async def labels(self, request: LabelRequest) -> list[Label]:
        if request.tensor is None:
            return []
        probabilities = await self.batcher(request.tensor)
        return labels_from_probabilities(probabilities, self.hierarchy, self.rules, floor=self.floor, top_k=self.top_k)
