"""Settings come from PIXTRACT_TAGGING_* variables with the service's own defaults."""

from __future__ import annotations

import pytest

from pixtract.tagging.config import Settings


def test_defaults() -> None:
    settings = Settings()
    assert (settings.service_name, settings.port, settings.mongo.database) == ("tagging", 8103, "tagging")
    assert settings.max_pixels == 100_000_000
    assert settings.model_version == "tagging-2"
    assert (settings.labels.provider, settings.labels.max_batch, settings.labels.intra_op_threads) == ("onnx", 16, 1)
    assert settings.labels.model_path.is_file()
    assert (settings.place_max_km, settings.duplicate_max_distance) == (25.0, 10)


def test_one_mongo_variable_keeps_the_tagging_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXTRACT_TAGGING_MONGO__URL", "mongodb://mongo.internal:27017")
    monkeypatch.setenv("PIXTRACT_TAGGING_MAX_PIXELS", "40000000")
    monkeypatch.setenv("PIXTRACT_TAGGING_MODEL_VERSION", "tagging-3")
    monkeypatch.setenv("PIXTRACT_TAGGING_LABELS__PROVIDER", "rekognition")
    monkeypatch.setenv("PIXTRACT_TAGGING_LABELS__FLOOR", "0.3")
    settings = Settings()
    assert settings.mongo.url.get_secret_value() == "mongodb://mongo.internal:27017"
    assert settings.mongo.database == "tagging"
    assert settings.max_pixels == 40_000_000
    assert settings.model_version == "tagging-3"
    assert (settings.labels.provider, settings.labels.floor) == ("rekognition", 0.3)


def test_a_zero_pixel_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXTRACT_TAGGING_MAX_PIXELS", "0")
    with pytest.raises(ValueError, match="max_pixels"):
        Settings()
