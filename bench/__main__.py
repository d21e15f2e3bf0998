"""`make bench`: run every benchmark and print its figures."""

from __future__ import annotations

from bench import ingest, ocr, search, tagging, upload


def main() -> None:
    ingest.main()
    upload.main()
    tagging.main([])
    ocr.main([])
    search.main([])


if __name__ == "__main__":
    main()
