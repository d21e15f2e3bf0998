"""Settings of the auth service come from PIXTRACT_AUTH_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixtract.auth.config import Settings


def test_defaults_name_the_service_its_port_and_its_own_database() -> None:
    settings = Settings()
    assert (settings.service_name, settings.port, settings.mongo.database) == ("auth", 8101, "auth")
    assert settings.signing_key_dir == Path(".data/auth/keys")
    assert settings.signing_key_file is None
    assert settings.access_token_ttl_seconds == 900
    assert settings.password_hashing.memory_cost_kib == 65536


def test_environment_variables_override_flat_and_nested_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXTRACT_AUTH_SIGNING_KEY_DIR", "/var/lib/pixtract/keys")
    monkeypatch.setenv("PIXTRACT_AUTH_SIGNING_KEY_FILE", "/run/secrets/auth/signing.pem")
    monkeypatch.setenv("PIXTRACT_AUTH_MONGO__DATABASE", "auth_staging")
    monkeypatch.setenv("PIXTRACT_AUTH_PASSWORD_HASHING__TIME_COST", "4")
    monkeypatch.setenv("PIXTRACT_AUTH_LOGIN_THROTTLE__MAX_FAILURES_PER_ACCOUNT", "5")
    settings = Settings()
    assert settings.signing_key_dir == Path("/var/lib/pixtract/keys")
    assert settings.signing_key_file == Path("/run/secrets/auth/signing.pem")
    assert settings.mongo.database == "auth_staging"
    assert settings.password_hashing.time_cost == 4
    assert settings.login_throttle.max_failures_per_account == 5
