"""The index: one alias over a versioned index, so a new mapping can be built beside the old one.

Indexes are named `<alias>-v<N>`, N a generation counted up by every reindex; the mapping's
own version is kept in the index's `_meta`, so a service can tell that the live index was
built with an older mapping (docs/design.md, "Reindex").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# Bump with every mapping change; `python -m pixtract.search reindex` then builds an index with it.
MAPPING_VERSION = 1
FIRST_GENERATION = 1

KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 512}
DATE: dict[str, Any] = {"type": "date", "ignore_malformed": True}


def text_and_keyword(analyzer: str = "standard") -> dict[str, Any]:
    """Searchable words plus the exact value for filters, facets and suggestions."""
    return {"type": "text", "analyzer": analyzer, "fields": {"keyword": KEYWORD}}


PROPERTIES: dict[str, Any] = {
    "owner_id": {"type": "keyword"},
    "image_id": {"type": "keyword"},
    # "simple" splits "IMG_0001.JPG" into words at every non-letter, so "beach" finds
    # "beach_day.jpeg"; the standard sub-field keeps "img_0001.jpg" whole for an exact name.
    # (A pattern analyzer keeping digits would be better; osmem ignores custom analyzers.)
    "filename": {
        "type": "text",
        "analyzer": "simple",
        "fields": {"std": {"type": "text", "analyzer": "standard"}, "keyword": KEYWORD},
    },
    "content_type": KEYWORD,
    "uploaded_at": DATE,
    "taken_at": DATE,
    # taken_at when the image has one, else uploaded_at: what browsing sorts by and years count.
    "effective_date": DATE,
    "camera": {"properties": {"make": text_and_keyword(), "model": text_and_keyword()}},
    "location": {
        "properties": {
            "point": {"type": "geo_point", "ignore_malformed": True},
            "place": text_and_keyword(),
            "country": text_and_keyword(),
        }
    },
    # English stemming so "dogs" finds a "dog" label.
    "labels": text_and_keyword("english"),
    "label_parents": text_and_keyword("english"),
    "categories": text_and_keyword("english"),
    "colors": KEYWORD,
    "faces": {"type": "integer", "ignore_malformed": True},
    "text": {
        "type": "text",
        "analyzer": "english",
        # Unstemmed words too, for exact phrases and words the stemmer mangles.
        "fields": {"std": {"type": "text", "analyzer": "standard"}},
    },
    "document_type": KEYWORD,
    "receipt": {
        "properties": {
            "vendor": text_and_keyword(),
            "total": {"type": "float", "ignore_malformed": True},
            "currency": KEYWORD,
            "date": DATE,
        }
    },
    "model_versions": {"properties": {"tagging": KEYWORD, "ocr": KEYWORD}},
    "deleted": {"type": "boolean"},
    "deleted_at": DATE,
}


def index_name(alias: str, generation: int = FIRST_GENERATION) -> str:
    return f"{alias}-v{generation}"


def generation_of(alias: str, index: str) -> int | None:
    """N for an index named `<alias>-v<N>`; None for any other name."""
    match = re.fullmatch(re.escape(alias) + r"-v(\d{1,9})", index)
    return int(match.group(1)) if match else None


def next_index_name(alias: str, existing: Iterable[str]) -> str:
    """The name of the index a rebuild fills: one generation above every index of the alias."""
    generations = [g for g in (generation_of(alias, name) for name in existing) if g is not None]
    return index_name(alias, max(generations, default=FIRST_GENERATION - 1) + 1)


def rebuild_alias(alias: str) -> str:
    """Names the index a rebuild is filling: every write goes there too while it exists."""
    return f"{alias}-rebuild"


def index_body(alias: str, *, shards: int, replicas: int) -> dict[str, Any]:
    """Settings, mapping and alias of a new index, created in one request so the alias is never dangling."""
    return {
        "settings": {"number_of_shards": shards, "number_of_replicas": replicas},
        "aliases": {alias: {}},
        "mappings": {
            "_meta": {"mapping_version": MAPPING_VERSION},
            # A field we do not know is kept in _source but not indexed, never a failed write.
            "dynamic": False,
            # Documents are routed by owner: a write without routing is a bug, refused by the server.
            "_routing": {"required": True},
            "properties": PROPERTIES,
        },
    }


def mapped_fields(properties: dict[str, Any] = PROPERTIES, prefix: str = "") -> set[str]:
    """Every searchable path of the mapping, sub-fields included (`labels`, `labels.keyword`, ...)."""
    paths: set[str] = set()
    for name, spec in properties.items():
        path = prefix + name
        if "properties" in spec:
            paths |= mapped_fields(spec["properties"], path + ".")
            continue
        paths.add(path)
        paths |= {f"{path}.{sub}" for sub in spec.get("fields", {})}
    return paths
