from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from pixtract.common.config import ServiceSettings


class EngineSettings(BaseModel):
    """RapidOCR and preprocessing; defaults chosen on the evaluation set (docs/design.md)."""

    det_limit_type: Literal["min", "max"] = "min"
    det_limit_side_len: int = Field(default=736, ge=320, le=4096)
    text_score: float = Field(default=0.5, ge=0.0, le=1.0)
    use_cls: bool = False
    # onnxruntime threads inside one engine; `workers` engines run at once.
    threads: int = Field(default=1, ge=1, le=16)
    # Pictures whose long side is shorter are enlarged to it first (0: never). Off: on the
    # evaluation set enlarging made the recogniser glue words and did not help the 384 px scan.
    upscale_below: int = Field(default=0, ge=0, le=4000)
    deskew: bool = False


class TextractSettings(BaseModel):
    """Optional AWS Textract provider (DetectDocumentText + AnalyzeExpense), with the usual
    AWS credentials from the environment or an IAM role."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    # AnalyzeExpense costs a second call: only for pictures DetectDocumentText calls receipts.
    analyze_expense: bool = True


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PIXTRACT_OCR_", env_nested_delimiter="__", extra="ignore")

    # A small collection of handled images, for `python -m pixtract.ocr reprocess`.
    default_mongo_database: ClassVar[str] = "ocr"

    service_name: str = "ocr"
    port: int = 8104
    # "rapidocr" (in-process, the default) or "textract" (AWS, optional).
    provider: Literal["rapidocr", "textract"] = "rapidocr"
    # OCR is CPU-bound and one engine holds ~0.4 GB: one worker thread per core at most.
    workers: int = Field(default=1, ge=1, le=8)
    # Images waiting for a worker beyond those being read; further events wait in Kafka.
    queue_size: int = Field(default=2, ge=0, le=64)
    # Largest side handed to the engine; bigger photos are downscaled first.
    max_side: int = Field(default=2400, ge=320)
    # Refuse to decode images above this many pixels (decompression-bomb guard).
    max_pixels: int = Field(default=100_000_000, ge=1)
    engine: EngineSettings = EngineSettings()
    textract: TextractSettings = TextractSettings()
