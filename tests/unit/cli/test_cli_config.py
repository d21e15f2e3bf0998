"""The credentials file: where it lives, what it holds, who may read it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from pixtract.cli.config import (
    ConfigError,
    Credentials,
    config_path,
    credentials_for,
    delete_credentials,
    load_credentials,
    normalize_url,
    save_credentials,
)
from pixtract.cli.tus import ResumeStore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_path_comes_from_the_environment_or_the_home_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PIXTRACT_CONFIG", str(tmp_path / "creds.json"))
    assert config_path() == tmp_path / "creds.json"
    monkeypatch.delenv("PIXTRACT_CONFIG")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config_path() == tmp_path / ".config" / "pixtract" / "credentials.json"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "pixtract" / "credentials.json"


def test_saved_credentials_are_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "new-dir" / "credentials.json"
    credentials = Credentials("http://127.0.0.1:8080", access_token="a", refresh_token="r", email="me@example.org")
    save_credentials(path, credentials)
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    assert json.loads(path.read_text()) == {
        "base_url": "http://127.0.0.1:8080",
        "access_token": "a",
        "refresh_token": "r",
        "email": "me@example.org",
    }
    assert load_credentials(path) == credentials
    assert credentials.bearer == "a"
    assert list(path.parent.iterdir()) == [path], "no temporary file is left behind"


def test_a_rewrite_tightens_a_file_someone_opened_up(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    save_credentials(path, Credentials("http://h", api_key="pxk_1"))
    path.chmod(0o644)
    save_credentials(path, Credentials("http://h", api_key="pxk_2"))
    assert _mode(path) == 0o600
    loaded = load_credentials(path)
    assert loaded is not None
    assert loaded.bearer == "pxk_2"


def test_missing_and_broken_files(tmp_path: Path) -> None:
    assert load_credentials(tmp_path / "none.json") is None
    broken = tmp_path / "broken.json"
    for text in ("{not json", "[]", '{"access_token": "a"}'):
        broken.write_text(text)
        with pytest.raises(ConfigError, match="pixtract login"):
            load_credentials(broken)
    assert delete_credentials(broken) is True
    assert delete_credentials(broken) is False


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("localhost:9000", "http://localhost:9000"),
        ("https://photos.example.org/", "https://photos.example.org"),
    ],
)
def test_urls_are_normalized(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize("bad", ["ftp://x", "http://", "://"])
def test_bad_urls_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        normalize_url(bad)


def test_tokens_of_another_server_are_never_used() -> None:
    stored = Credentials("http://a:8080", access_token="t")
    assert credentials_for("http://a:8080", stored) is stored
    assert credentials_for("http://b:8080", stored) is None
    assert credentials_for("http://a:8080", None) is None


def test_the_resume_store_keeps_unfinished_upload_urls_privately(tmp_path: Path) -> None:
    store = ResumeStore(tmp_path / "resumable-uploads.json")
    key = ResumeStore.key("http://h", "ab" * 32, 10)
    assert store.get(key) is None
    store.put(key, "http://h/api/v1/uploads/1", "big.tif")
    assert ResumeStore(store.path).get(key) == "http://h/api/v1/uploads/1"
    assert _mode(store.path) == 0o600
    store.remove(key)
    assert store.get(key) is None
    store.path.write_text("garbage")
    assert store.get(key) is None
