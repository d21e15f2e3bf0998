from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from pixtract.common.config import ServiceSettings

MODELS_DIR = Path(__file__).resolve().parent / "models"


class LabelSettings(BaseModel):
    # "onnx": EfficientNet-Lite0 in the package; "rekognition": AWS DetectLabels (optional,
    # needs AWS credentials in the usual environment variables or an IAM role).
    provider: Literal["onnx", "rekognition"] = "onnx"
    model_path: Path = MODELS_DIR / "efficientnet_lite0.onnx"
    hierarchy_path: Path = MODELS_DIR / "imagenet_hierarchy.json"
    rules_path: Path = MODELS_DIR / "label_rules.yaml"
    # None: the rules file's values.
    floor: float | None = Field(default=None, ge=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=1, le=50)
    # onnxruntime's threads inside one inference; the pool runs `workers` of them at once.
    intra_op_threads: int = Field(default=1, ge=1, le=16)
    # Micro-batching: images waiting together run as one batch of at most max_batch; a lone
    # image waits at most max_wait_ms for company.
    max_batch: int = Field(default=16, ge=1, le=64)
    max_wait_ms: float = Field(default=5.0, ge=0.0, le=1000.0)


class RekognitionSettings(BaseModel):
    region: str = "us-east-1"
    endpoint_url: str | None = None
    max_labels: int = Field(default=20, ge=1, le=1000)
    # Rekognition's own percent scale.
    min_confidence: float = Field(default=60.0, ge=0.0, le=100.0)


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIXTRACT_TAGGING_", env_nested_delimiter="__", extra="ignore")

    default_mongo_database: ClassVar[str] = "tagging"

    service_name: str = "tagging"
    port: int = 8103
    # CPU-bound: a 12 MP JPEG takes ~50 ms (draft decoding), a 12 MP PNG ~350 ms; threads
    # beyond the cores only queue.
    workers: int = Field(default=2, ge=1, le=16)
    # Refuse to decode images above this many pixels (decompression-bomb guard).
    max_pixels: int = Field(default=100_000_000, ge=1)
    # Recorded in every result (with the label model's and face detector's versions), so
    # images tagged by an older pipeline can be found and redone. Bump it when the rules change.
    model_version: str = Field(default="tagging-2", min_length=1)
    labels: LabelSettings = LabelSettings()
    rekognition: RekognitionSettings = RekognitionSettings()
    # Faces below this detector score are not counted.
    face_min_confidence: float = Field(default=0.75, ge=0.0, le=1.0)
    # The nearest town must be at most this far from the GPS point to name the place.
    place_max_km: float = Field(default=25.0, gt=0.0)
    # Images of one owner whose 64-bit pHashes differ in at most this many bits are linked
    # as near-duplicates (recompressed or resized copies: 0-2; a 5 degree turn: ~10;
    # different photos: 30 and more).
    duplicate_max_distance: int = Field(default=10, ge=0, le=32)
