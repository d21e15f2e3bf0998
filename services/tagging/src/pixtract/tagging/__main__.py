"""`python -m pixtract.tagging` runs the service; `python -m pixtract.tagging reprocess [--dry-run]`
re-emits work for images tagged by an older model version."""

import sys

from pixtract.common.server import run_service
from pixtract.tagging.app import create_app
from pixtract.tagging.config import Settings

if __name__ == "__main__":
    if sys.argv[1:2] == ["reprocess"]:
        from pixtract.tagging.reprocess import main

        main(sys.argv[2:])
    else:
        run_service(Settings(), create_app)  # type: ignore[arg-type]
