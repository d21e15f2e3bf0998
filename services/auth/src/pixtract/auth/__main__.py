"""`python -m pixtract.auth` serves; `python -m pixtract.auth rotate-key` adds a new signing key."""

from __future__ import annotations

import argparse
import json
import sys

from pixtract.auth.adapters.key_files import write_new_key
from pixtract.auth.app import create_app, utc_now
from pixtract.auth.config import Settings
from pixtract.common.server import run_service


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pixtract.auth", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the service (the default)")
    commands.add_parser(
        "rotate-key",
        help="write a new RSA signing key into PIXTRACT_AUTH_SIGNING_KEY_DIR; it signs after the next "
        "restart, and older keys stay published so the tokens they signed remain valid",
    )
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "rotate-key":
        if settings.signing_key_file is not None:
            print(
                "PIXTRACT_AUTH_SIGNING_KEY_FILE is set, so that file always signs: rotate by replacing it and "
                "moving the old key into PIXTRACT_AUTH_SIGNING_KEY_DIR to keep it published.",
                file=sys.stderr,
            )
            return 2
        path, key = write_new_key(settings.signing_key_dir, utc_now())
        print(json.dumps({"kid": key.kid, "path": str(path)}))
        return 0
    run_service(settings, lambda _: create_app(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
