"""Where the CLI keeps what `pixtract login` got: one JSON file, readable by its owner only.

`$PIXTRACT_CONFIG` names the file; otherwise `~/.config/pixtract/credentials.json`
(`$XDG_CONFIG_HOME` moves `~/.config`). The file holds the server's base URL and either an
access/refresh token pair or an API key. Every write replaces the file atomically with
mode 0600, so a crash never leaves half a token and other users never see one.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CONFIG_ENV = "PIXTRACT_CONFIG"
DEFAULT_URL = "http://127.0.0.1:8080"
FILE_MODE = 0o600
DIR_MODE = 0o700


class ConfigError(Exception):
    """The credentials file or a URL cannot be used; the message says what to do."""


@dataclass(frozen=True)
class Credentials:
    base_url: str
    access_token: str | None = None
    refresh_token: str | None = None
    api_key: str | None = None
    email: str | None = None

    @property
    def bearer(self) -> str | None:
        return self.api_key or self.access_token


def config_path() -> Path:
    configured = os.environ.get(CONFIG_ENV)
    if configured:
        return Path(configured).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "pixtract" / "credentials.json"


def normalize_url(url: str) -> str:
    """`host:port` or a full URL, as the base URL requests are made against (no trailing slash)."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{url!r} is not an http(s) URL of a Pixtract server")
    return url.rstrip("/")


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def load_credentials(path: Path) -> Credentials | None:
    """The stored credentials, or None if there is no file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("base_url"), str):
            raise ValueError("no base_url")
        return Credentials(
            base_url=normalize_url(data["base_url"]),
            access_token=_optional_str(data, "access_token"),
            refresh_token=_optional_str(data, "refresh_token"),
            api_key=_optional_str(data, "api_key"),
            email=_optional_str(data, "email"),
        )
    except (ValueError, ConfigError) as exc:
        raise ConfigError(f"{path} is not a Pixtract credentials file; run `pixtract login` again") from exc


def write_private_json(path: Path, data: object) -> None:
    """Replace `path` with `data` as JSON, atomically, readable and writable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            # O_CREAT's mode does not apply to a file left behind by a crash: set it in any case.
            os.fchmod(out.fileno(), FILE_MODE)
            json.dump(data, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save_credentials(path: Path, credentials: Credentials) -> None:
    data = {key: value for key, value in asdict(credentials).items() if value is not None}
    try:
        write_private_json(path, data)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from exc


def delete_credentials(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def credentials_for(url: str, stored: Credentials | None) -> Credentials | None:
    """The stored credentials if they belong to this server (tokens of another server are never sent)."""
    if stored is None or stored.base_url != url:
        return None
    return stored
