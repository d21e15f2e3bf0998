"""The configured OCR provider, opened and closed with the process that uses it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pixtract.ocr.adapters.pool import EnginePool, PooledReader
from pixtract.ocr.adapters.rapid import RapidOcrEngine, RapidOptions
from pixtract.ocr.config import Settings
from pixtract.ocr.consumers.uploaded import TextReader
from pixtract.ocr.domain.ocr import Preprocessing


@asynccontextmanager
async def text_reader(settings: Settings) -> AsyncIterator[TextReader]:
    if settings.provider == "textract":
        from pixtract.ocr.adapters.textract import textract_reader

        async with textract_reader(settings) as reader:
            yield reader
        return
    options = RapidOptions.of(settings.engine)
    pool = EnginePool(lambda: RapidOcrEngine(options), workers=settings.workers, queue_size=settings.queue_size)
    try:
        # Loading the models takes about a second an engine: done before joining the consumer group.
        await asyncio.to_thread(pool.start)
        yield PooledReader(
            pool,
            max_pixels=settings.max_pixels,
            max_side=settings.max_side,
            preprocessing=Preprocessing(upscale_below=settings.engine.upscale_below, deskew=settings.engine.deskew),
        )
    finally:
        pool.shutdown()
