"""Signing keys as PEM files: a directory of keys (local stack, rotation) or one mounted Secret file."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from pixtract.auth.domain.signing_keys import KeyRing, SigningKey, SigningKeyError, generate_private_key_pem

KEY_SUFFIX = ".pem"


def _read_key(path: Path) -> SigningKey:
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{path}: cannot read the signing key ({exc.strerror})") from exc
    return SigningKey.from_pem(pem, source=str(path))


def read_key_dir(key_dir: Path) -> list[SigningKey]:
    """Every key in the directory, ordered by file name (the last one is the newest)."""
    if not key_dir.is_dir():
        return []
    return [_read_key(path) for path in sorted(key_dir.glob(f"*{KEY_SUFFIX}"))]


def write_new_key(key_dir: Path, now: datetime) -> tuple[Path, SigningKey]:
    """A fresh RSA key in `key_dir`, readable by its owner only, named so that it sorts after older keys."""
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = generate_private_key_pem()
    key = SigningKey.from_pem(pem)
    path = key_dir / f"{now:%Y%m%dT%H%M%S%fZ}{KEY_SUFFIX}"
    partial = path.with_suffix(".partial")
    # Written aside and renamed, so a crash never leaves a truncated key that would stop the next start.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        os.rename(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path, key


def load_key_ring(key_dir: Path, key_file: Path | None, *, may_generate: bool, now: datetime) -> KeyRing:
    """The keys the service signs and publishes with; generates a first key only where allowed."""
    dir_keys = read_key_dir(key_dir)
    if key_file is not None:
        return KeyRing(_read_key(key_file), dir_keys)
    if dir_keys:
        return KeyRing(dir_keys[-1], dir_keys[:-1])
    if not may_generate:
        raise SigningKeyError(
            f"no RSA signing key: mount one and set PIXTRACT_AUTH_SIGNING_KEY_FILE, or put *{KEY_SUFFIX} files "
            f"in PIXTRACT_AUTH_SIGNING_KEY_DIR (now {key_dir}); keys are generated only in development and test"
        )
    _, key = write_new_key(key_dir, now)
    return KeyRing(key)
