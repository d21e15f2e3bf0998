"""One upload run against an in-process API: dedup before sending, one request per file, outcomes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import httpx
import pytest

from pixtract.cli.config import Credentials
from pixtract.cli.discovery import discover
from pixtract.cli.session import ApiSession, NotLoggedIn
from pixtract.cli.tus import ResumeStore, TusClient
from pixtract.cli.uploader import FileResult, Outcome, Unauthorized, UploadOptions, UploadRun
from tests.unit.cli.fakes import PNG_MAGIC, FakePixtract, FakeTusServer, TusUpload

BASE = "http://pixtract.test"


class RecordingReporter:
    def __init__(self) -> None:
        self.phases: list[tuple[str, int, int]] = []
        self.advanced: dict[str, int] = {}
        self.results: list[FileResult] = []

    def phase(self, name: str, files: int, total_bytes: int) -> None:
        self.phases.append((name, files, total_bytes))
        self.advanced[name] = 0

    def advance(self, nbytes: int) -> None:
        self.advanced[self.phases[-1][0]] += nbytes

    def finished(self, result: FileResult) -> None:
        self.results.append(result)


def png(seed: int, size: int = 2000) -> bytes:
    return PNG_MAGIC + seed.to_bytes(4, "big") + os.urandom(size)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    first = png(1)
    (root / "a.png").write_bytes(first)
    (root / "b.png").write_bytes(png(2))
    (root / "sub" / "c-copy.png").write_bytes(first)
    (root / "notes.txt").write_text("not an image")
    return root


async def _run(
    server: FakePixtract,
    root: Path,
    *,
    include_all: bool = False,
    credentials: Credentials | None = None,
    **options: object,
) -> tuple[list[FileResult], RecordingReporter]:
    found = discover([root], include_all=include_all)
    reporter = RecordingReporter()
    if credentials is None:
        credentials = Credentials(BASE, access_token=server.access_token, refresh_token=server.refresh_token)
    async with ApiSession(BASE, credentials, transport=server.transport()) as api:
        run = UploadRun(api, reporter, UploadOptions(retry_delay_s=0, **options))  # type: ignore[arg-type]
        results = await run.run(found.files, found.not_images)
    return results, reporter


def _outcomes(results: list[FileResult], root: Path) -> dict[str, Outcome]:
    return {str(result.file.path.relative_to(root)): result.outcome for result in results}


async def test_identical_files_go_once_and_a_rerun_sends_nothing(photos: Path) -> None:
    server = FakePixtract()
    results, reporter = await _run(server, photos)
    assert list(_outcomes(results, photos).items()) == [
        ("a.png", Outcome.UPLOADED),
        ("b.png", Outcome.UPLOADED),
        ("sub/c-copy.png", Outcome.DUPLICATE),
        ("notes.txt", Outcome.SKIPPED),
    ]
    by_name = {result.file.path.name: result for result in results}
    assert by_name["c-copy.png"].image_id == by_name["a.png"].image_id
    assert [method for method, path in server.requests if path == "/api/v1/images"] == ["POST", "POST"]
    sizes = (photos / "a.png").stat().st_size + (photos / "b.png").stat().st_size
    assert reporter.phases == [("Hashing", 3, sizes + (photos / "a.png").stat().st_size), ("Uploading", 3, sizes)]
    assert reporter.advanced["Uploading"] == sizes

    server.requests.clear()
    again, _ = await _run(server, photos)
    assert _outcomes(again, photos) == {
        "a.png": Outcome.KNOWN,
        "b.png": Outcome.KNOWN,
        "sub/c-copy.png": Outcome.KNOWN,
        "notes.txt": Outcome.SKIPPED,
    }
    assert [path for _, path in server.requests] == ["/api/v1/images/known-hashes"]


async def test_one_refused_file_does_not_sink_the_others(photos: Path) -> None:
    server = FakePixtract()
    results, _ = await _run(server, photos, include_all=True)
    outcomes = _outcomes(results, photos)
    assert outcomes["notes.txt"] is Outcome.REJECTED
    assert outcomes["a.png"] is Outcome.UPLOADED
    assert outcomes["b.png"] is Outcome.UPLOADED
    [refused] = [result for result in results if result.outcome is Outcome.REJECTED]
    assert refused.message.startswith("Unsupported Media Type (415): notes.txt is not a supported image")


async def test_a_network_failure_is_that_files_outcome(photos: Path) -> None:
    server = FakePixtract()
    server.fail_upload_of["b.png"] = httpx.ConnectError("connection refused")
    results, _ = await _run(server, photos)
    outcomes = _outcomes(results, photos)
    assert outcomes["b.png"] is Outcome.FAILED
    assert outcomes["a.png"] is Outcome.UPLOADED
    [failed] = [result for result in results if result.outcome is Outcome.FAILED]
    assert "cannot connect" in failed.message
    # Sent three times in all before giving up.
    assert len([p for _, p in server.requests if p == "/api/v1/images"]) == 2 + 2


async def test_known_hashes_are_asked_in_batches_of_a_thousand(tmp_path: Path) -> None:
    for n in range(1001):
        (tmp_path / f"{n:04}.png").write_bytes(png(n, size=16))
    server = FakePixtract()
    for n in range(1001):
        server.store(f"{n:04}.png", (tmp_path / f"{n:04}.png").read_bytes())
    results, _ = await _run(server, tmp_path, jobs=8)
    assert {result.outcome for result in results} == {Outcome.KNOWN}
    assert server.known_hashes_batches == [1000, 1]


async def test_an_expired_token_mid_run_is_refreshed(photos: Path) -> None:
    server = FakePixtract()
    server.expire_access_token()
    results, _ = await _run(server, photos)
    assert Outcome.UPLOADED in {result.outcome for result in results}
    assert server.refreshes == 1


async def test_a_refused_credential_stops_the_run(photos: Path) -> None:
    server = FakePixtract()
    # The stored refresh token was rotated away (by another machine, say) and the access token expired.
    stale = Credentials(BASE, access_token="access-0", refresh_token="refresh-0")
    with pytest.raises(NotLoggedIn, match="session has ended"):
        await _run(server, photos, credentials=stale)
    assert ("POST", "/api/v1/images") not in server.requests

    with pytest.raises(Unauthorized, match="Unauthorized"):
        await _run(server, photos, credentials=Credentials(BASE, api_key="pxk_revoked"))


async def test_large_files_go_through_tus_when_offered(photos: Path, tmp_path: Path) -> None:
    tus = FakeTusServer()
    server = FakePixtract(tus)
    large = photos / "large.png"
    large.write_bytes(png(9, size=300_000))

    def finish_into_pipeline(upload: TusUpload) -> tuple[str, bool]:
        image = server.store(upload.metadata["filename"], bytes(upload.data))
        return image["id"], image["duplicate"]

    tus.finish = finish_into_pipeline
    store = ResumeStore(tmp_path / "state.json")
    results, _ = await _run(
        server,
        photos,
        resumable_above=100_000,
        resume_store=store,
        tus_client=lambda api: TusClient(api, chunk_bytes=64 * 1024),
    )
    [via_tus] = [result for result in results if result.file.path == large]
    assert via_tus.outcome is Outcome.UPLOADED
    assert via_tus.resumable
    assert via_tus.image_id == server.store("again.png", large.read_bytes())["id"]
    assert bytes(next(iter(tus.uploads.values())).data) == large.read_bytes()
    assert next(r for r in results if r.file.path.name == "a.png").resumable is False
    assert not store.path.exists() or store.get(ResumeStore.key(BASE, "x", 1)) is None


async def test_without_tus_large_files_are_plain_uploads(photos: Path) -> None:
    server = FakePixtract()  # OPTIONS /api/v1/uploads answers 404
    large = photos / "large.png"
    large.write_bytes(png(9, size=300_000))
    results, _ = await _run(server, photos, resumable_above=100_000)
    [plain] = [result for result in results if result.file.path == large]
    assert plain.outcome is Outcome.UPLOADED
    assert not plain.resumable
    assert ("OPTIONS", "/api/v1/uploads") in server.requests


def test_progress_counts_each_byte_once_across_rewinds() -> None:
    from pixtract.cli.uploader import HighWater, ProgressReader

    seen: list[int] = []
    progress = HighWater(seen.append)
    reader = ProgressReader(io.BytesIO(b"x" * 100), progress)
    assert reader.read(60) == b"x" * 60
    reader.seek(0)
    assert reader.read() == b"x" * 100
    assert sum(seen) == 100


async def test_a_tus_upload_that_names_no_image_is_not_called_uploaded(photos: Path) -> None:
    server = FakePixtract(FakeTusServer())  # keeps the bytes, makes no image of them
    large = photos / "large.png"
    large.write_bytes(png(9, size=300_000))
    results, _ = await _run(server, photos, resumable_above=100_000)
    [via_tus] = [result for result in results if result.file.path == large]
    assert via_tus.outcome is Outcome.FAILED
    assert "named no image" in via_tus.message
