"""The tagging pipeline's models, built from settings: label source, face detector, gazetteer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import Executor
from contextlib import AsyncExitStack, asynccontextmanager

from pixtract.tagging.adapters.face_detector import YuFaceDetector, face_detector_version
from pixtract.tagging.adapters.geonames import GeoNamesGazetteer
from pixtract.tagging.adapters.onnx_classifier import MicroBatcher, OnnxClassifier, OnnxLabelSource, verify_model
from pixtract.tagging.adapters.rekognition import RekognitionLabelSource
from pixtract.tagging.config import Settings
from pixtract.tagging.consumers.uploaded import TaggingTools
from pixtract.tagging.domain.labels import LabelHierarchy, LabelRules, LabelSource

REKOGNITION_VERSION = "rekognition-detectlabels-3"


def label_model_version(settings: Settings) -> str:
    """The label model's part of the model version; checks the ONNX file's sha256."""
    if settings.labels.provider == "rekognition":
        return REKOGNITION_VERSION
    path = settings.labels.model_path
    return f"{path.stem.replace('_', '-')}-{verify_model(path)[:8]}"


def current_model_version(settings: Settings) -> str:
    """What every result records: the service's own version, the label model's and the face detector's."""
    return f"{settings.model_version}+{label_model_version(settings)}+{face_detector_version()}"


@asynccontextmanager
async def tagging_tools(settings: Settings, executor: Executor) -> AsyncIterator[TaggingTools]:
    """Loads the models once (refusing a model file whose sha256 does not match) and closes them."""
    rules = LabelRules.load(settings.labels.rules_path)
    async with AsyncExitStack() as stack:
        source: LabelSource
        if settings.labels.provider == "rekognition":
            # Imported here: aioboto3's Rekognition client is needed only when configured.
            import aioboto3

            client = await stack.enter_async_context(
                aioboto3.Session().client(
                    "rekognition",
                    region_name=settings.rekognition.region,
                    endpoint_url=settings.rekognition.endpoint_url,
                )
            )
            source = RekognitionLabelSource(
                client,
                rules,
                max_labels=settings.rekognition.max_labels,
                min_confidence=settings.rekognition.min_confidence,
                top_k=settings.labels.top_k or rules.top_k,
                version=REKOGNITION_VERSION,
            )
        else:
            classifier = OnnxClassifier(settings.labels.model_path, intra_op_threads=settings.labels.intra_op_threads)
            batcher = MicroBatcher(
                classifier.predict,
                executor,
                max_batch=settings.labels.max_batch,
                max_wait_s=settings.labels.max_wait_ms / 1000,
                concurrency=settings.workers,
            )
            stack.push_async_callback(batcher.aclose)
            source = OnnxLabelSource(
                batcher,
                LabelHierarchy.load(settings.labels.hierarchy_path),
                rules,
                version=classifier.version,
                floor=settings.labels.floor,
                top_k=settings.labels.top_k,
            )
        yield TaggingTools(
            labels=source,
            faces=YuFaceDetector(min_confidence=settings.face_min_confidence),
            gazetteer=GeoNamesGazetteer(),
            rules=rules,
            place_max_km=settings.place_max_km,
            duplicate_max_distance=settings.duplicate_max_distance,
        )
