"""The `pixtract` command against the running system: login, upload a folder twice, search, download."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from typer.testing import CliRunner

from pixtract.cli import main
from tests.e2e.client import PixtractClient, photo_jpeg, text_png

pytestmark = pytest.mark.e2e

PIXTRACT = Path(sys.executable).parent / "pixtract"
SEARCHABLE_TIMEOUT_S = 120.0
LINE = re.compile(r"^(uploaded|duplicate|skipped-known|skipped|rejected|failed)\s+(\S+)(?:\s+→\s+(\S+))?")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    config = tmp_path / "config" / "credentials.json"
    # The in-process login (CliRunner) and the installed command read the same file.
    monkeypatch.setenv("PIXTRACT_CONFIG", str(config))
    monkeypatch.delenv("PIXTRACT_URL", raising=False)
    return {**os.environ, "PIXTRACT_CONFIG": str(config), "COLUMNS": "200"}


@pytest.fixture
def account(stack: Any) -> tuple[str, str]:
    email, password = f"cli-{uuid.uuid4().hex[:10]}@example.org", f"cli passphrase {uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=stack.base_url, timeout=30) as http:
        registered = http.post("/api/v1/auth/register", json={"email": email, "password": password})
        assert registered.status_code == 201, registered.text
    return email, password


def pixtract(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PIXTRACT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def outcomes(stdout: str) -> dict[str, tuple[str, str | None]]:
    """File name → (outcome, image id) from the per-file lines."""
    found = {}
    for line in stdout.splitlines():
        match = LINE.match(line)
        if match:
            found[Path(match[2]).name] = (match[1], match[3])
    return found


def summary(stdout: str) -> dict[str, int]:
    """Outcome → file count from the summary table."""
    counts = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│┃|]", line) if cell.strip()]
        if len(cells) == 3 and cells[1].isdigit():
            counts[cells[0]] = int(cells[1])
    return counts


def test_login_upload_twice_search_and_download(
    stack: Any, account: tuple[str, str], env: dict[str, str], tmp_path: Path
) -> None:
    assert PIXTRACT.exists(), "the CLI is installed with the project (make install)"
    email, password = account
    login = CliRunner().invoke(main.app, ["login", "--url", stack.base_url, "--email", email], input=password + "\n")
    assert login.exit_code == 0, login.output
    assert f"Logged in to {stack.base_url}" in login.output

    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    receipt = text_png(["Marmalade receipt", "Total 12.50 EUR"])
    (folder / "marmalade.png").write_bytes(receipt)
    (folder / "nested" / "photo.jpg").write_bytes(photo_jpeg(5))
    (folder / "nested" / "zz-copy.png").write_bytes(receipt)
    (folder / "notes.txt").write_text("a shopping list, not an image\n")

    first = pixtract(env, "upload", str(folder), "--jobs", "3")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Traceback" not in first.stderr
    per_file = outcomes(first.stdout)
    assert {name: outcome for name, (outcome, _) in per_file.items()} == {
        "marmalade.png": "uploaded",
        "photo.jpg": "uploaded",
        "zz-copy.png": "duplicate",
        "notes.txt": "skipped",
    }
    receipt_id = per_file["marmalade.png"][1]
    assert receipt_id is not None
    assert per_file["zz-copy.png"][1] == receipt_id
    assert summary(first.stdout) == {"uploaded": 2, "duplicate": 1, "skipped": 1, "total": 4}

    again = pixtract(env, "upload", str(folder))
    assert again.returncode == 0, again.stdout + again.stderr
    assert {name: outcome for name, (outcome, _) in outcomes(again.stdout).items()} == {
        "marmalade.png": "skipped-known",
        "photo.jpg": "skipped-known",
        "zz-copy.png": "skipped-known",
        "notes.txt": "skipped",
    }
    assert summary(again.stdout) == {"skipped-known": 3, "skipped": 1, "total": 4}

    # Searchable once the search service indexed the upload (file name, then OCR text); the
    # image need not be `ready` for that, so this does not wait on tagging.
    token = json.loads(Path(env["PIXTRACT_CONFIG"]).read_text())["access_token"]
    client = PixtractClient(stack.base_url)
    try:
        client.token = token
        deadline = time.monotonic() + SEARCHABLE_TIMEOUT_S
        while client.search_ids("marmalade") != [receipt_id]:
            assert time.monotonic() < deadline, "the uploaded receipt never became searchable"
            time.sleep(0.5)
    finally:
        client.close()

    found = pixtract(env, "search", "marmalade", "--json")
    assert found.returncode == 0, found.stdout + found.stderr
    assert [hit["image_id"] for hit in json.loads(found.stdout)["items"]] == [receipt_id]
    table = pixtract(env, "search", "marmalade")
    assert "marmalade.png" in table.stdout
    assert "1 of 1 results" in table.stdout

    copy = tmp_path / "downloaded.png"
    got = pixtract(env, "get", receipt_id, "--output", str(copy))
    assert got.returncode == 0, got.stdout + got.stderr
    assert "marmalade.png" in got.stdout
    assert copy.read_bytes() == receipt

    missing = pixtract(env, "get", "no-such-image")
    assert missing.returncode == 1
    assert "Not Found (404): No image with this id." in missing.stderr
    assert "Traceback" not in missing.stderr


def test_rejected_files_are_reported_with_the_servers_reason(
    stack: Any, account: tuple[str, str], env: dict[str, str], tmp_path: Path
) -> None:
    email, password = account
    login = CliRunner().invoke(main.app, ["login", "--url", stack.base_url, "--email", email], input=password + "\n")
    assert login.exit_code == 0, login.output
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "ok.jpg").write_bytes(photo_jpeg(11))
    (folder / "fake.jpg").write_bytes(b"%PDF-1.4 this is not a picture\n")
    result = pixtract(env, "upload", "--all", str(folder))
    assert result.returncode == 1
    per_file = outcomes(result.stdout)
    assert per_file["ok.jpg"][0] == "uploaded", "one bad file does not sink the others"
    assert per_file["fake.jpg"][0] == "rejected"
    assert "Unsupported Media Type (415): fake.jpg is not a supported image" in result.stdout


def test_large_files_go_through_tus_when_the_server_offers_it(
    stack: Any, account: tuple[str, str], env: dict[str, str], tmp_path: Path
) -> None:
    email, password = account
    with httpx.Client(base_url=stack.base_url, timeout=30) as http:
        token = http.post("/api/v1/auth/login", json={"email": email, "password": password}).json()["access_token"]
        offered = http.options("/api/v1/uploads", headers={"Authorization": f"Bearer {token}"})
    if offered.headers.get("Tus-Resumable") != "1.0.0":
        pytest.skip("this server does not offer tus at /api/v1/uploads")
    login = CliRunner().invoke(main.app, ["login", "--url", stack.base_url, "--email", email], input=password + "\n")
    assert login.exit_code == 0, login.output
    folder = tmp_path / "large"
    folder.mkdir()
    # Noise does not compress: a 600x600 PNG is about 1 MB, above the 256 KiB threshold given below.
    noisy = Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3))
    noisy.save(folder / "noise.png", format="PNG")
    (folder / "small.jpg").write_bytes(photo_jpeg(31))

    result = pixtract(env, "upload", str(folder), "--resumable-above", "256KiB")
    assert result.returncode == 0, result.stdout + result.stderr
    per_file = outcomes(result.stdout)
    assert per_file["noise.png"][0] == "uploaded"
    assert per_file["small.jpg"][0] == "uploaded"
    [noise_line] = [line for line in result.stdout.splitlines() if "noise.png" in line]
    assert "(resumable)" in noise_line
    assert "(resumable)" not in next(line for line in result.stdout.splitlines() if "small.jpg" in line)
    image_id = per_file["noise.png"][1]
    assert image_id is not None

    copy = tmp_path / "copy.png"
    got = pixtract(env, "get", image_id, "--output", str(copy))
    assert got.returncode == 0, got.stdout + got.stderr
    assert copy.read_bytes() == (folder / "noise.png").read_bytes()
    state = Path(env["PIXTRACT_CONFIG"]).with_name("resumable-uploads.json")
    assert not state.exists() or json.loads(state.read_text()) == {}, "a finished upload leaves nothing to resume"
