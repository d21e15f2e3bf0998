"""The consistency checker's comparison of records, stored objects and search documents."""

from __future__ import annotations

from typing import Any

from pixtract.localstack.consistency import compare


def _record(image_id: str, *, owner: str = "u1", **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "_id": image_id,
        "owner_id": owner,
        "deleted": False,
        "state": "ready",
        "stages": {"tagging": "done", "ocr": "done", "search": "done"},
        "outbox": [],
        "original": {"key": f"originals/{owner}/{image_id}"},
        "thumbnails": {size: {"key": f"thumbs/{owner}/{image_id}/{size}.webp"} for size in ("small", "large")},
    }
    record.update(changes)
    return record


def _keys(image_id: str, owner: str = "u1") -> list[str]:
    return [
        f"originals/{owner}/{image_id}",
        f"thumbs/{owner}/{image_id}/small.webp",
        f"thumbs/{owner}/{image_id}/large.webp",
    ]


def _doc(image_id: str, owner: str = "u1", **changes: Any) -> dict[str, Any]:
    return {"image_id": image_id, "owner_id": owner, **changes}


def test_agreeing_stores_have_no_problems() -> None:
    records = [_record("a"), _record("b"), _record("gone", deleted=True)]
    docs = [_doc("a"), _doc("b"), _doc("gone", deleted=True), _doc("deleted-user:u9", deleted=True)]
    assert compare(records, [*_keys("a"), *_keys("b"), "uploads/u1/partial/0"], docs) == []


def test_every_kind_of_disagreement_is_named() -> None:
    records = [
        _record("missing-thumb"),
        _record("stuck", state="processing", stages={"tagging": "done", "ocr": "pending", "search": "pending"}),
        _record("queued", outbox=[{"topic": "images.uploaded"}]),
        _record("unindexed"),
        _record("moved"),
        _record("deleted", deleted=True),
        _record("half-stored", deleted=True, purge_after="later"),  # a placeholder: its objects await the purge
    ]
    keys = [
        *_keys("missing-thumb")[:2],
        *_keys("stuck"),
        *_keys("queued"),
        *_keys("unindexed"),
        *_keys("moved"),
        *_keys("deleted"),  # a deleted image's objects, awaiting the purge
        *_keys("half-stored")[:1],
        *_keys("unknown"),  # nobody knows of these
    ]
    docs = [_doc("missing-thumb"), _doc("stuck"), _doc("queued"), _doc("moved", owner="u2"), _doc("deleted")]
    found = {(p.kind, p.image_id) for p in compare(records, keys, docs)}
    assert found == {
        ("missing object", "missing-thumb"),
        ("still processing", "stuck"),
        ("unpublished events", "queued"),
        ("not in the index", "unindexed"),
        ("indexed under another owner", "moved"),
        ("orphan object", "unknown"),
        ("indexed but not live", "deleted"),
    }
