"""The commands end to end against an in-process API: what they print, store and exit with."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixtract.cli import main
from pixtract.cli.config import Credentials, load_credentials, save_credentials
from tests.unit.cli.fakes import PNG_MAGIC, FakePixtract

BASE = "http://pixtract.test"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> FakePixtract:
    fake = FakePixtract()
    monkeypatch.setattr(main, "transport_factory", fake.transport)
    return fake


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "config" / "credentials.json"
    monkeypatch.setenv("PIXTRACT_CONFIG", str(path))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("PIXTRACT_URL", raising=False)
    return path


@pytest.fixture
def logged_in(server: FakePixtract, config: Path) -> Path:
    save_credentials(config, Credentials(BASE, server.access_token, server.refresh_token, email="alice@example.org"))
    return config


runner = CliRunner()


def test_login_prompts_for_the_password_and_keeps_the_tokens_privately(server: FakePixtract, config: Path) -> None:
    result = runner.invoke(
        main.app, ["login", "--url", BASE + "/", "--email", "alice@example.org"], input=f"{server.password}\n"
    )
    assert result.exit_code == 0, result.output
    assert server.password not in result.output, "the password is not echoed"
    assert "Logged in to http://pixtract.test as alice@example.org" in result.output
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert load_credentials(config) == Credentials(
        BASE, access_token="access-1", refresh_token="refresh-1", email="alice@example.org"
    )


def test_a_wrong_password_is_the_servers_answer(server: FakePixtract, config: Path) -> None:
    result = runner.invoke(main.app, ["login", "--url", BASE], input="alice@example.org\nwrong\n")
    assert result.exit_code == 1
    assert "Error: Unauthorized (401): Wrong email or password." in result.output
    assert "Traceback" not in result.output
    assert not config.exists()


def test_login_with_an_api_key(server: FakePixtract, config: Path) -> None:
    result = runner.invoke(main.app, ["login", "--url", BASE, "--api-key", "pxk_test"])
    assert result.exit_code == 0, result.output
    stored = load_credentials(config)
    assert stored == Credentials(BASE, api_key="pxk_test", email="alice@example.org")


def test_commands_need_a_login_first(server: FakePixtract, config: Path) -> None:
    result = runner.invoke(main.app, ["search", "cats"])
    assert result.exit_code == 1
    assert "Not logged in to http://127.0.0.1:8080. Run `pixtract login --url http://127.0.0.1:8080`." in result.output
    assert server.requests == []


def test_search_shows_a_table_or_the_raw_json(server: FakePixtract, logged_in: Path) -> None:
    server.store("lighthouse.png", PNG_MAGIC + b"1")
    table = runner.invoke(main.app, ["search", "lighthouse", "--limit", "5"])
    assert table.exit_code == 0, table.output
    assert "1 of 1 results" in table.output
    assert "lighthouse.png" in table.output
    assert "the lighthouse keeper" in table.output
    assert "2025-07-14 10:30:00" in table.output
    raw = runner.invoke(main.app, ["search", "lighthouse", "--json"])
    assert json.loads(raw.stdout)["items"][0]["image_id"] == "img-1"


def test_api_errors_show_title_and_detail_without_a_traceback(server: FakePixtract, logged_in: Path) -> None:
    result = runner.invoke(main.app, ["search", "bad["])
    assert result.exit_code == 1
    assert "Error: Bad Request (400): The query is malformed: unbalanced [." in result.output
    missing = runner.invoke(main.app, ["get", "nope"])
    assert missing.exit_code == 1
    assert "Error: Not Found (404): No image with this id." in missing.output
    assert "Traceback" not in result.output + missing.output


def test_get_shows_the_metadata_and_downloads_identical_bytes(
    server: FakePixtract, logged_in: Path, tmp_path: Path
) -> None:
    data = PNG_MAGIC + bytes(range(256)) * 100
    server.store("keeper.png", data)
    server.redirect_downloads = True  # 307 to signed storage, followed
    result = runner.invoke(main.app, ["get", "img-1", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "keeper.png" in result.output
    assert "E2E [Camera]" in result.output, "server text is never taken for console markup"
    assert "lighthouse 91%" in result.output
    assert (tmp_path / "keeper.png").read_bytes() == data
    assert f"Saved {len(data) / 1024:.1f} KiB" in result.output


def test_an_expired_token_is_refreshed_and_the_new_pair_saved(server: FakePixtract, logged_in: Path) -> None:
    server.expire_access_token()
    result = runner.invoke(main.app, ["search", "x"])
    assert result.exit_code == 0, result.output
    stored = load_credentials(logged_in)
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == ("access-2", "refresh-2")


def test_upload_prints_each_outcome_a_summary_and_exits_1_on_a_rejection(
    server: FakePixtract, logged_in: Path, tmp_path: Path
) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(PNG_MAGIC + b"a")
    (tmp_path / "in" / "a-again.png").write_bytes(PNG_MAGIC + b"a")
    (tmp_path / "in" / "readme.txt").write_text("hello")
    ok = runner.invoke(main.app, ["upload", str(tmp_path / "in")])
    assert ok.exit_code == 0, ok.output
    lines = ok.stdout.splitlines()
    assert any(line.startswith("uploaded") and "a-again.png" in line for line in lines)
    assert any(line.startswith("duplicate") and line.rstrip().endswith("img-1") for line in lines)
    assert any(line.startswith("skipped ") and "readme.txt" in line for line in lines)
    assert "Upload summary" in ok.stdout

    everything = runner.invoke(main.app, ["upload", "--all", str(tmp_path / "in"), str(tmp_path / "gone.jpg")])
    assert everything.exit_code == 1
    assert "rejected" in everything.stdout
    assert "Unsupported Media Type (415): readme.txt is not a supported image" in everything.stdout
    assert "skipped-known" in everything.stdout
    assert "gone.jpg: no such file or directory" in everything.output


def test_a_bad_size_is_a_usage_error(server: FakePixtract, logged_in: Path, tmp_path: Path) -> None:
    result = runner.invoke(main.app, ["upload", "--resumable-above", "huge", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a size" in result.output


def test_logout_forgets_the_credentials(server: FakePixtract, logged_in: Path) -> None:
    result = runner.invoke(main.app, ["logout"])
    assert result.exit_code == 0, result.output
    assert ("POST", "/api/v1/auth/logout") in server.requests
    assert not logged_in.exists()
