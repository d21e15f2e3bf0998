from __future__ import annotations

import pytest

from pixtract.search.config import Settings


def test_defaults() -> None:
    settings = Settings()
    assert settings.service_name == "search"
    assert settings.port == 8105
    assert settings.opensearch.index_alias == "pixtract-images"


def test_settings_come_from_the_search_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXTRACT_SEARCH_UPLOAD_URL", "http://upload:8102")
    monkeypatch.setenv("PIXTRACT_SEARCH_OPENSEARCH__INDEX_ALIAS", "images")
    monkeypatch.setenv("PIXTRACT_SEARCH_INDEX_REPLICAS", "0")
    settings = Settings()
    assert settings.upload_url == "http://upload:8102"
    assert settings.opensearch.index_alias == "images"
    assert settings.index_replicas == 0


def test_production_does_not_demand_an_s3_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXTRACT_SEARCH_ENVIRONMENT", "production")
    assert Settings().environment == "production"
