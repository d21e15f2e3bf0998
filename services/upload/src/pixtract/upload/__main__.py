from pixtract.common.server import run_service
from pixtract.upload.app import create_app
from pixtract.upload.config import Settings

if __name__ == "__main__":
    run_service(Settings(), create_app)  # type: ignore[arg-type]
