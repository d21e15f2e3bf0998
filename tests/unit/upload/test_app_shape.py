"""The app as built by create_app (no lifespan, so no connections): routes and their OpenAPI description."""

from __future__ import annotations

from pixtract.upload.app import create_app
from pixtract.upload.config import DownloadMode, Settings


def test_settings_defaults_and_env_prefix() -> None:
    settings = Settings()
    assert (settings.port, settings.mongo.database, settings.download_mode) == (8102, "media", DownloadMode.STREAM)
    assert (settings.max_file_bytes, settings.max_files, settings.max_pixels) == (100 * 1024 * 1024, 50, 100_000_000)
    assert settings.reemit_after_seconds == 600
    assert Settings.model_config.get("env_prefix") == "PIXTRACT_UPLOAD_"


def test_every_images_route_is_served_and_described() -> None:
    schema = create_app(Settings()).openapi()
    paths = schema["paths"]
    assert set(paths["/api/v1/images"]) == {"get", "post"}
    assert set(paths["/api/v1/images/{image_id}"]) == {"get", "delete"}
    assert "get" in paths["/api/v1/images/{image_id}/content"]
    assert "get" in paths["/api/v1/images/{image_id}/thumbnail"]
    upload_body = paths["/api/v1/images"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload_body["properties"]["files"]["items"]["format"] == "binary"
    image_out = schema["components"]["schemas"]["ImageOut"]
    assert {"stages", "labels", "text", "location", "camera"} <= set(image_out["properties"])
