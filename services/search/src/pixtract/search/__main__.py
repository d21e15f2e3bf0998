"""`python -m pixtract.search` serves; `python -m pixtract.search reindex` rebuilds the index
from the upload service's records into a new index and moves the alias to it (no downtime)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

import httpx

from pixtract.common.clients import opensearch_client
from pixtract.common.logging import configure_logging
from pixtract.common.server import run_service
from pixtract.search.adapters.opensearch import IndexUnavailable, RebuildInProgress
from pixtract.search.adapters.upload import UploadUnavailable
from pixtract.search.app import create_app
from pixtract.search.config import Settings
from pixtract.search.reindex import RebuildReport, rebuild_from_upload

EXIT_FAILED = 1
EXIT_BUSY = 2


async def reindex(settings: Settings, *, discard_unfinished: bool) -> RebuildReport:
    client = opensearch_client(settings.opensearch)
    try:
        async with httpx.AsyncClient() as http:
            return await rebuild_from_upload(client, http, settings, discard_unfinished=discard_unfinished)
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pixtract.search", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    rebuild = commands.add_parser(
        "reindex",
        help="rebuild the index from the upload service (PIXTRACT_SEARCH_UPLOAD_URL, PIXTRACT_SEARCH_INTERNAL_TOKEN) "
        "with the current mapping, then swap the alias; searches and event indexing go on meanwhile",
    )
    rebuild.add_argument(
        "--discard-unfinished",
        action="store_true",
        help="first drop the index of an earlier rebuild that never finished (it crashed); "
        "never while another rebuild still runs",
    )
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command != "reindex":
        run_service(settings, lambda _: create_app(settings))
        return 0
    configure_logging(f"{settings.service_name}-reindex", settings.log_level, settings.log_json)
    try:
        report = asyncio.run(reindex(settings, discard_unfinished=args.discard_unfinished))
    except RebuildInProgress as exc:
        print(f"not rebuilt: {exc}; if no rebuild runs, pass --discard-unfinished", file=sys.stderr)
        return EXIT_BUSY
    except (UploadUnavailable, IndexUnavailable, ValueError) as exc:
        print(f"not rebuilt: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(vars(report)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
