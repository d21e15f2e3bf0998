"""Engines in worker threads behind a bounded queue.

OCR is CPU-bound (hundreds of ms an image) and asyncio must keep serving health checks and
Kafka heartbeats, so inference runs in threads. RapidOCR keeps per-call state on its
object, so each thread owns one engine. At most `workers + queue_size` images are admitted
at once; further handlers wait, which holds their records in Kafka rather than in memory.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pixtract.ocr.domain.ocr import ENGINE_NAME, LineEngine, OcrResult, Preprocessing, extract_text

T = TypeVar("T")


class EnginePool:
    def __init__(self, factory: Callable[[], LineEngine], *, workers: int, queue_size: int) -> None:
        self._factory = factory
        self._workers = workers
        self._local = threading.local()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ocr")
        self._admitted = asyncio.Semaphore(workers + queue_size)
        self.model_version = ""

    def _engine(self) -> LineEngine:
        engine: LineEngine | None = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._factory()
            self._local.engine = engine
        return engine

    def start(self) -> None:
        """Load one engine in every worker thread now (about a second each), not on first use."""
        barrier = threading.Barrier(self._workers)

        def load() -> str:
            # The barrier keeps each load on its own thread.
            barrier.wait()
            return self._engine().model_version

        versions = [future.result() for future in [self._executor.submit(load) for _ in range(self._workers)]]
        self.model_version = versions[0]

    async def run(self, work: Callable[[LineEngine], T]) -> T:
        async with self._admitted:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, lambda: work(self._engine()))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)


class PooledReader:
    """The in-process provider: extract_text on the pool's engines."""

    engine_name = ENGINE_NAME

    def __init__(self, pool: EnginePool, *, max_pixels: int, max_side: int, preprocessing: Preprocessing) -> None:
        self._pool = pool
        self._max_pixels = max_pixels
        self._max_side = max_side
        self._preprocessing = preprocessing

    @property
    def model_version(self) -> str:
        return self._pool.model_version

    async def read(self, data: bytes) -> OcrResult:
        return await self._pool.run(
            lambda engine: extract_text(
                engine, data, max_pixels=self._max_pixels, max_side=self._max_side, preprocessing=self._preprocessing
            )
        )
