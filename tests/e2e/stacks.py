"""A whole stack of a test module's own, for tests that kill services or stop backing servers
and so must never disturb the session's shared `stack`.

Its Kafka keeps its log on S3, as `make up` does (a SeaweedFS of its own, not the media
store), so a broker restart keeps every acknowledged message and committed offset, like a
real broker (with memory storage it would come back empty), and stopping the media store
leaves Kafka alone. Upload's reconciler runs every 5 s and re-emits after `reemit_after_s`:
the production safety net for work lost with a killed process, made quick enough to test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pixtract.localstack import Stack, StackConfig
from pixtract.localstack.config import KafkaStorage


@contextmanager
def stack_of_its_own(folder: Path, *, reemit_after_s: int) -> Iterator[Stack]:
    config = StackConfig.for_tests(folder)
    config.kafka_storage = KafkaStorage.S3
    config.service_extra_env = {
        "upload": {
            "PIXTRACT_UPLOAD_REEMIT_AFTER_SECONDS": str(reemit_after_s),
            "PIXTRACT_UPLOAD_RECONCILE_INTERVAL_SECONDS": "5",
            # Re-emitting that often, the default 5 attempts would mark an image failed after
            # 100 s while a loaded machine still works through its results (a later result
            # clears the failure, but the tests stop at the first `failed` they see).
            "PIXTRACT_UPLOAD_MAX_ATTEMPTS": "30",
        }
    }
    stack = Stack(config)
    try:
        stack.start_infra()
        stack.start_services()
        stack.start_ingress()
        yield stack
    finally:
        stack.stop()
