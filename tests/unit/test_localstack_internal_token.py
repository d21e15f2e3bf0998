"""The local stack gives upload and search one internal token per run, and search its reindex switch."""

from __future__ import annotations

from pathlib import Path

from pixtract.common.config import MIN_INTERNAL_TOKEN_CHARS
from pixtract.localstack import Stack, StackConfig


def test_upload_and_search_share_a_fresh_internal_token(tmp_path: Path) -> None:
    stack = Stack(StackConfig(data_dir=tmp_path))
    upload, search = stack.service_env("upload"), stack.service_env("search")
    token = upload["PIXTRACT_UPLOAD_INTERNAL_TOKEN"]
    assert search["PIXTRACT_SEARCH_INTERNAL_TOKEN"] == token
    assert len(token) >= MIN_INTERNAL_TOKEN_CHARS
    # Only the services that use internal endpoints get it.
    for name in ("auth", "tagging", "ocr"):
        assert not any(key.endswith("_INTERNAL_TOKEN") for key in stack.service_env(name))
    # A new run, a new token.
    assert Stack(StackConfig(data_dir=tmp_path)).service_env("upload")["PIXTRACT_UPLOAD_INTERNAL_TOKEN"] != token


def test_search_rebuilds_its_index_from_upload_when_osmem_comes_back_empty(tmp_path: Path) -> None:
    stack = Stack(StackConfig(data_dir=tmp_path))
    search = stack.service_env("search")
    assert search["PIXTRACT_SEARCH_REINDEX_ON_EMPTY_INDEX"] == "true"
    assert search["PIXTRACT_SEARCH_UPLOAD_URL"] == stack.endpoints.services["upload"]
