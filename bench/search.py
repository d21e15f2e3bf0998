"""Search latency and bulk indexing throughput on synthetic libraries, against a bare `match`.

Starts osmem (the local stack's OpenSearch stand-in) on a free port, or uses the cluster at
`PIXTRACT_BENCH_OPENSEARCH_URL`. For each library size it builds documents with the search
service's own shaping functions from synthetic events (OCR text from a word list, labels,
categories, places, vendors, cameras, dates over ten years), bulk-loads them through the
rebuild's bulk writer into an index with the real mapping, then measures p50/p99 latency at
1 and 16 concurrent clients for typical requests.

Requests go through the search service's query path in process: `build_search` /
`build_suggest` -> `ImageIndex.search` (the service's OpenSearch client settings) ->
`shape_search_page`, i.e. everything the HTTP handler does except HTTP and the token check.
The baseline is a bare `match` on the OCR text sent by the same client in the same run;
the ratio of the p50s is what our query building (owner filter, tombstones, fuzzy
multi-field matching, facets, highlights) costs on top of the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from opensearchpy import AsyncOpenSearch

from pixtract.common.clients import opensearch_client
from pixtract.common.config import OpenSearchSettings
from pixtract.events.v1 import images_pb2
from pixtract.search.adapters.opensearch import ImageIndex, IndexMaintenance
from pixtract.search.domain.documents import PartialDocument, tagged_document, text_document, uploaded_document
from pixtract.search.domain.mapping import index_name
from pixtract.search.domain.rebuild import merge_partial
from pixtract.search.domain.results import shape_search_page, shape_suggestions
from pixtract.search.domain.search import (
    OwnerScopedSearch,
    SearchFilters,
    build_search,
    build_suggest,
    resolve_sort,
)

OWNERS = [f"owner-{n}" for n in range(10)]
# The owner whose library is searched holds 60% of the documents; nine others share the rest.
OWNER_WEIGHTS = [60] + [40 / 9] * 9
SEARCHER = OWNERS[0]

# Words of receipts, notes, lecture sheets and forms; drawn with Zipf-like frequencies.
WORD_LIST = (
    "the and for with total due thank you receipt invoice order number date time cash card change "
    "subtotal tax vat item qty price amount paid balance store shop market cafe coffee tea latte "
    "espresso croissant bagel sandwich salad soup pasta pizza burger fries water juice milk bread "
    "butter cheese apple banana orange lemon chicken beef fish rice beans eggs sugar salt pepper "
    "meeting notes agenda project deadline budget review plan team client report summary action "
    "items follow up next week monday tuesday wednesday thursday friday call email draft final "
    "lecture chapter exam homework problem solution theorem proof example definition formula "
    "physics chemistry biology history math english literature essay question answer page "
    "form name address phone signature policy claim patient doctor appointment prescription "
    "insurance account statement bank transfer deposit withdrawal interest loan rent lease "
    "ticket flight gate seat boarding train platform hotel booking reservation check room "
    "museum entrance adult child family garden park beach mountain river lake city street "
)
WORDS = WORD_LIST.split()
LABELS = {
    "golden retriever": ["dog", "animal"],
    "tabby": ["cat", "animal"],
    "seashore": ["shore", "landscape"],
    "alp": ["mountain", "landscape"],
    "lakeside": ["shore", "landscape"],
    "espresso": ["coffee", "drink"],
    "pizza": ["dish", "food"],
    "cheeseburger": ["sandwich", "food"],
    "bicycle": ["vehicle"],
    "sports car": ["car", "vehicle"],
    "daisy": ["flower", "plant"],
    "palace": ["building", "structure"],
    "church": ["building", "structure"],
    "laptop": ["computer", "device"],
    "notebook": ["paper", "document"],
    "menu": ["paper", "document"],
    "envelope": ["paper", "document"],
    "birthday cake": ["cake", "food"],
    "balloon": ["aircraft", "vehicle"],
    "sunglasses": ["glasses", "clothing"],
}
CATEGORIES = {
    "dog": "Animals",
    "cat": "Animals",
    "landscape": "Landscapes",
    "drink": "Food & drink",
    "food": "Food & drink",
    "vehicle": "Vehicles",
    "plant": "Nature",
    "structure": "Buildings",
    "device": "Things",
    "document": "Documents",
    "clothing": "Things",
}
PLACES = [
    ("Paris", "France", 48.85, 2.35),
    ("Lyon", "France", 45.76, 4.84),
    ("Berlin", "Germany", 52.52, 13.40),
    ("Munich", "Germany", 48.14, 11.58),
    ("London", "United Kingdom", 51.51, -0.13),
    ("Edinburgh", "United Kingdom", 55.95, -3.19),
    ("Rome", "Italy", 41.90, 12.50),
    ("Venice", "Italy", 45.44, 12.32),
    ("Barcelona", "Spain", 41.39, 2.17),
    ("Lisbon", "Portugal", 38.72, -9.14),
    ("Amsterdam", "Netherlands", 52.37, 4.90),
    ("Stockholm", "Sweden", 59.33, 18.07),
    ("New York", "United States", 40.71, -74.01),
    ("San Francisco", "United States", 37.77, -122.42),
    ("Tokyo", "Japan", 35.68, 139.69),
    ("Kyoto", "Japan", 35.01, 135.77),
    ("Sydney", "Australia", -33.87, 151.21),
    ("Cape Town", "South Africa", -33.92, 18.42),
    ("Reykjavik", "Iceland", 64.15, -21.94),
    ("Zurich", "Switzerland", 47.37, 8.54),
]
VENDORS = [
    "Corner Shop",
    "Tesco",
    "Carrefour",
    "Lidl",
    "Starbucks",
    "Pret A Manger",
    "Monoprix",
    "Rewe",
    "Walmart",
    "Whole Foods",
    "Boulangerie Paul",
    "Shell",
    "IKEA",
    "Apple Store",
    "Trader Joe's",
]
CAMERAS = [("Apple", "iPhone 12"), ("Apple", "iPhone 15 Pro"), ("Google", "Pixel 8"), ("Canon", "EOS R6")]
DOCUMENT_TYPES = ["receipt", "note", "form", "other"]
START = datetime(2016, 1, 1, tzinfo=UTC)
SPAN_S = 10 * 365 * 24 * 3600

# Requests of each kind, for the searching owner; typos are one edit from library words.
FREE_TEXT = ["coffee receipt", "beach sunset", "meeting notes", "golden retriever", "pizza paris", "exam chapter"]
TYPOS = ["reciept", "cofee", "retreiver", "meetng", "invocie", "esspresso"]
PHRASES = ['"total due"', '"thank you"', '"corner shop"', '"meeting notes"']
LUCENE = [
    "label:tabby AND NOT category:food",
    "vendor:tesco OR vendor:lidl",
    "text:invoice AND date:[2020-01-01 TO 2021-12-31]",
    "place:paris AND (coffee OR croissant)",
    "filename:img*",
]
SUGGEST_PREFIXES = ["co", "pa", "re", "be", "s", "gold", "ber"]
BARE_WORDS = ["coffee", "receipt", "meeting", "beach", "invoice", "exam"]


def _zipf_weights(n: int) -> list[float]:
    return [1 / (rank + 1) for rank in range(n)]


def synthetic_document(n: int, rng: random.Random) -> PartialDocument:
    """One image's document, shaped from synthetic events by the service's own functions."""
    image_id = f"img-{n:07d}"
    owner = rng.choices(OWNERS, OWNER_WEIGHTS)[0]
    moment = START + timedelta(seconds=rng.randrange(SPAN_S))
    uploaded = images_pb2.ImageUploaded(
        image_id=image_id,
        owner_id=owner,
        filename=f"IMG_{n:05d}.JPG" if rng.random() < 0.8 else f"{rng.choice(WORDS)}_{n}.png",
        content_type="image/jpeg",
        size=rng.randrange(200_000, 6_000_000),
    )
    uploaded.uploaded_at.FromDatetime(moment + timedelta(days=rng.randrange(0, 30)))
    if rng.random() < 0.7:
        uploaded.taken_at.FromDatetime(moment)
        make, model = rng.choice(CAMERAS)
        uploaded.camera.make, uploaded.camera.model = make, model
    doc = uploaded_document(uploaded)

    tagged = images_pb2.ImageTagged(image_id=image_id, owner_id=owner, model_version="bench@1")
    names = rng.sample(list(LABELS), rng.randint(1, 3))
    for name in names:
        tagged.labels.add(name=name, confidence=rng.uniform(0.3, 0.99), parents=LABELS[name])
    tagged.categories.extend(sorted({CATEGORIES[p] for name in names for p in LABELS[name] if p in CATEGORIES}))
    tagged.faces = rng.choice([0, 0, 0, 1, 2])
    if rng.random() < 0.6:
        place, country, lat, lon = rng.choice(PLACES)
        tagged.location.CopyFrom(images_pb2.Place(lat=lat, lon=lon, place=place, country=country))
    merge_partial(doc, tagged_document(tagged))

    if rng.random() < 0.45:
        kind = rng.choices(DOCUMENT_TYPES, [5, 3, 1, 1])[0]
        words = rng.choices(WORDS, _zipf_weights(len(WORDS)), k=rng.randint(15, 120))
        text = images_pb2.TextExtracted(image_id=image_id, owner_id=owner, document_type=kind, model_version="b@1")
        if kind == "receipt":
            vendor = rng.choice(VENDORS)
            total = f"{rng.uniform(2, 250):.2f}"
            words = [vendor, *words, "total", "due", total, "thank", "you"]
            text.fields.update({"vendor": vendor, "total": total, "currency": "EUR", "date": moment.date().isoformat()})
        text.content = " ".join(words)
        merge_partial(doc, text_document(text))
    return doc


def library(size: int, seed: int = 7) -> list[PartialDocument]:
    rng = random.Random(seed)
    return [synthetic_document(n, rng) for n in range(size)]


@dataclass
class Figures:
    name: str
    clients: int
    latencies_ms: list[float]
    # Requests that failed (the service's client gives up after 10 s and 2 retries).
    errors: int = 0

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(name: str, clients: int, requests: int, call: Callable[[int], Awaitable[object]]) -> Figures:
    """`requests` calls spread over `clients` concurrent workers; each call's latency in ms."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(requests))

    async def worker() -> None:
        nonlocal errors
        for n in counter:
            started = time.perf_counter()
            try:
                await call(n)
            except Exception:  # a timeout or an overloaded engine: counted, not fatal
                errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker() for _ in range(clients)))
    return Figures(name, clients, latencies or [float("nan")], errors)


def request_kinds(index: ImageIndex, client: AsyncOpenSearch) -> dict[str, Callable[[int], Awaitable[object]]]:
    async def search(text: str, filters: SearchFilters | None = None) -> object:
        order = resolve_sort(text, None)
        request = build_search(SEARCHER, text, filters or SearchFilters(), limit=20, sort=order)
        response = await index.search(request)
        return shape_search_page(response, 20, order)

    def filtered(n: int) -> SearchFilters:
        year = 2016 + n % 10
        category = sorted(set(CATEGORIES.values()))[n % 7]
        return SearchFilters(category=category, date_from=date(year, 1, 1), date_to=date(year, 12, 31))

    async def search_without_facets(text: str) -> object:
        # Not what the API sends (it always counts facets): splits the query's cost from the facets'.
        order = resolve_sort(text, None)
        full = build_search(SEARCHER, text, SearchFilters(), limit=20, sort=order)
        options = {key: value for key, value in full.options.items() if key != "aggs"}
        request = OwnerScopedSearch(full.owner_id, full.query, full.filters, options)
        return shape_search_page(await index.search(request), 20, order)

    async def suggest(prefix: str) -> object:
        return shape_suggestions(await index.search(build_suggest(SEARCHER, prefix, size=10)), 10)

    async def bare(word: str) -> object:
        return await client.search(index=index.alias, body={"query": {"match": {"text": word}}, "size": 21})

    return {
        # First at each concurrency level: requests the client gave up on still run in the engine.
        "bare match (baseline)": lambda n: bare(BARE_WORDS[n % len(BARE_WORDS)]),
        "free text": lambda n: search(FREE_TEXT[n % len(FREE_TEXT)]),
        "free text, no facets": lambda n: search_without_facets(FREE_TEXT[n % len(FREE_TEXT)]),
        "typo": lambda n: search(TYPOS[n % len(TYPOS)]),
        "phrase": lambda n: search(PHRASES[n % len(PHRASES)]),
        "lucene": lambda n: search(LUCENE[n % len(LUCENE)]),
        "filtered browse": lambda n: search("", filtered(n)),
        "facets (whole library)": lambda n: search(""),
        "suggest": lambda n: suggest(SUGGEST_PREFIXES[n % len(SUGGEST_PREFIXES)]),
    }


async def index_library(
    client: AsyncOpenSearch, alias: str, docs: list[PartialDocument], batch: int
) -> tuple[ImageIndex, float]:
    """A fresh index with the real mapping, bulk-loaded; the docs/s of the load."""
    index = ImageIndex(client, alias, replicas=0)
    await index.ensure_index()
    maintenance = IndexMaintenance(client, alias, replicas=0)
    target = index_name(alias)
    started = time.perf_counter()
    for offset in range(0, len(docs), batch):
        outcome = await maintenance.write(target, docs[offset : offset + batch])
        if outcome.rejected:
            raise RuntimeError(f"bulk refused documents: {outcome.rejected[:3]}")
    await maintenance.refresh(target)
    elapsed = time.perf_counter() - started
    return index, len(docs) / elapsed


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def run(url: str, sizes: list[int], clients: list[int], requests: int, batch: int, pid: int | None) -> None:
    client = opensearch_client(OpenSearchSettings(url=url))
    try:
        for size in sizes:
            t0 = time.perf_counter()
            docs = library(size)
            built_s = time.perf_counter() - t0
            owned = sum(1 for doc in docs if doc["owner_id"] == SEARCHER)
            index, docs_per_s = await index_library(client, f"bench-search-{size}", docs, batch)
            memory = f", osmem RSS {rss_mib(pid):.0f} MiB" if pid is not None else ""
            print(f"\nsearch: {size} documents ({owned} of the searching owner), built in {built_s:.1f} s")
            print(f"  load average after indexing: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            print(f"  bulk indexing     {docs_per_s:8.0f} docs/s  (batches of {batch}{memory})")
            kinds = request_kinds(index, client)
            for kind in kinds.values():  # warm-up: first requests build caches
                await kind(0)
            baseline: dict[int, float] = {}
            rows: list[Figures] = []
            for concurrency in clients:
                count = requests * (2 if concurrency > 1 else 1)
                for name, call in kinds.items():
                    figures = await measure(name, concurrency, count, call)
                    rows.append(figures)
                    if name.startswith("bare"):
                        baseline[concurrency] = figures.p(0.5)
            print(f"  {'request':24} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'p50 / bare':>10} {'errors':>6}")
            for row in rows:
                ratio = row.p(0.5) / baseline[row.clients] if baseline.get(row.clients) else float("nan")
                latency = f"{row.p(0.5):8.1f} {row.p(0.99):8.1f}"
                print(f"  {row.name:24} {row.clients:7d} {latency} {ratio:10.1f} {row.errors:6d}")
            print(f"  load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            await client.indices.delete(index=f"bench-search-{size}-v*", request_timeout=300)
    finally:
        await client.close()


def start_osmem() -> tuple[subprocess.Popen[bytes], str]:
    import osmem_server

    port = _free_port()
    proc = subprocess.Popen(
        [str(osmem_server.resolve_binary()), "-addr", f"127.0.0.1:{port}", "-no-stdin-watch"],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    return proc, str(first["url"])


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench search", description=__doc__)
    parser.add_argument("--sizes", default=os.environ.get("PIXTRACT_BENCH_SEARCH_SIZES", "10000,100000"))
    parser.add_argument("--clients", default="1,16", help="concurrency levels, comma-separated")
    parser.add_argument("--requests", type=int, default=60, help="requests per kind at 1 client (x2 when concurrent)")
    parser.add_argument("--batch", type=int, default=1000, help="documents per bulk request")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    clients = [int(c) for c in args.clients.split(",")]
    url = os.environ.get("PIXTRACT_BENCH_OPENSEARCH_URL")
    if url:
        asyncio.run(run(url, sizes, clients, args.requests, args.batch, None))
        return
    proc, url = start_osmem()
    try:
        asyncio.run(run(url, sizes, clients, args.requests, args.batch, proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
