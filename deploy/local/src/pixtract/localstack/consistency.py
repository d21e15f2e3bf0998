"""Does what upload's records say match what S3 and the search index hold?

After faults (a killed service, a dependency that went away) the three stores must agree
again once the pipeline has settled:
- every live image record has its original and thumbnails in S3, and every other object
  under originals/ or thumbs/ is named by a deleted record awaiting the purge (a deleted
  image, or the placeholder of a store that died half-way): no object nobody knows of;
- every image the record calls indexed (`stages.search == done`) has a search document,
  and no live search document belongs to an image that is not live;
- nothing is still waiting: no record in `processing`, none with an event in its outbox.

`compare` is the pure part (the tests' fault scenarios and its unit tests use it);
`check` reads the three stores of a running stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pymongo

from pixtract.localstack.provision import s3_client
from pixtract.localstack.stack import InfraEndpoints

UPLOAD_DATABASE = "media"
INDEX_ALIAS = "pixtract-images"
# Prefixes whose objects belong to image records (uploads/ holds resumable uploads in flight).
IMAGE_PREFIXES = ("originals/", "thumbs/")
# Search documents that are not images: one marker per deleted user.
MARKER_PREFIX = "deleted-user:"


@dataclass(frozen=True)
class Problem:
    kind: str
    image_id: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.image_id} ({self.detail})"


def compare(
    records: Iterable[Mapping[str, Any]], object_keys: Iterable[str], index_docs: Iterable[Mapping[str, Any]]
) -> list[Problem]:
    """Every disagreement between upload's records, the stored objects and the search documents."""
    live: dict[str, Mapping[str, Any]] = {}
    awaiting_purge: set[str] = set()
    for record in records:
        if not record.get("deleted"):
            live[str(record["_id"])] = record
        else:
            awaiting_purge.update(_keys(record))
    problems: list[Problem] = []

    expected_keys: dict[str, str] = {}
    for image_id, record in live.items():
        expected_keys.update(dict.fromkeys(_keys(record), image_id))
        if record.get("state") == "processing":
            problems.append(Problem("still processing", image_id, f"stages {record.get('stages')}"))
        if record.get("outbox"):
            topics = [entry.get("topic") for entry in record["outbox"]]
            problems.append(Problem("unpublished events", image_id, f"outbox holds {topics}"))
    stored = {key for key in object_keys if key.startswith(IMAGE_PREFIXES)}
    problems += [
        Problem("missing object", image_id, key) for key, image_id in expected_keys.items() if key not in stored
    ]
    orphans = stored - expected_keys.keys() - awaiting_purge
    problems += [Problem("orphan object", (key.split("/") + ["?"] * 3)[2], key) for key in sorted(orphans)]

    indexed = {
        str(doc["image_id"]): doc
        for doc in index_docs
        if not doc.get("deleted") and not str(doc.get("image_id", "")).startswith(MARKER_PREFIX)
    }
    for image_id, record in live.items():
        if record.get("stages", {}).get("search") == "done" and image_id not in indexed:
            problems.append(Problem("not in the index", image_id, "stages.search is done"))
    for image_id, doc in indexed.items():
        owner = live[image_id].get("owner_id") if image_id in live else None
        if image_id not in live:
            problems.append(Problem("indexed but not live", image_id, "no live record"))
        elif doc.get("owner_id") != owner:
            problems.append(Problem("indexed under another owner", image_id, str(doc.get("owner_id"))))
    return problems


def _keys(record: Mapping[str, Any]) -> list[str]:
    original = record.get("original", {}).get("key")
    return [*([original] if original else []), *(t["key"] for t in record.get("thumbnails", {}).values())]


def check(endpoints: InfraEndpoints) -> list[Problem]:
    """`compare` over the stores of a running stack."""
    mongo: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(endpoints.mongo_url)
    try:
        records = list(mongo[UPLOAD_DATABASE]["images"].find({}))
    finally:
        mongo.close()
    s3 = s3_client(
        endpoints.s3_endpoint, endpoints.s3_access_key_id, endpoints.s3_secret_access_key, endpoints.s3_region
    )
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=endpoints.s3_bucket):
        keys.extend(str(item["Key"]) for item in page.get("Contents", []))
    return compare(records, keys, _index_documents(endpoints.opensearch_url))


def _index_documents(url: str, page_size: int = 1000) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    body: dict[str, Any] = {
        "query": {"match_all": {}},
        "_source": ["image_id", "owner_id", "deleted"],
        "sort": [{"image_id": "asc"}],
        "size": page_size,
    }
    with httpx.Client(base_url=url, timeout=30.0) as http:
        while True:
            response = http.post(f"/{INDEX_ALIAS}/_search", json=body)
            response.raise_for_status()
            hits = response.json()["hits"]["hits"]
            docs.extend(hit["_source"] for hit in hits)
            if len(hits) < page_size:
                return docs
            body["search_after"] = hits[-1]["sort"]
