"""`make bench`: run every benchmark and print its figures."""

from __future__ import annotations

from bench import ingest


def main() -> None:
    ingest.main()


if __name__ == "__main__":
    main()
