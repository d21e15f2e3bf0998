import sys

from pixtract.common.server import run_service
from pixtract.ocr.app import create_app
from pixtract.ocr.config import Settings

if __name__ == "__main__":
    if sys.argv[1:2] == ["reprocess"]:
        from pixtract.ocr.reprocess import main

        main(sys.argv[2:])
    else:
        run_service(Settings(), create_app)  # type: ignore[arg-type]
