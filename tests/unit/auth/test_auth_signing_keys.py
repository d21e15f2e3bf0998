"""Signing keys: RFC 7638 key ids, keys on disk, generation only outside production."""

from __future__ import annotations

import base64
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pixtract.auth.adapters.key_files import load_key_ring, read_key_dir, write_new_key
from pixtract.auth.domain.signing_keys import SigningKey, SigningKeyError, rsa_public_jwk

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

# RFC 7638 section 3.1: this key's thumbprint is given in the RFC.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
    "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5"
    "hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_key_id_is_the_rfc_7638_thumbprint() -> None:
    modulus = int.from_bytes(base64.urlsafe_b64decode(RFC7638_N + "=="), "big")
    jwk = rsa_public_jwk(modulus, 65537)
    assert jwk["kid"] == RFC7638_THUMBPRINT
    assert (jwk["n"], jwk["e"]) == (RFC7638_N, "AQAB")


def test_without_keys_development_generates_one_readable_by_its_owner_only(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys"
    ring = load_key_ring(key_dir, None, may_generate=True, now=NOW)
    (written,) = key_dir.glob("*.pem")
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    assert SigningKey.from_pem(written.read_bytes()).kid == ring.signing.kid
    private = serialization.load_pem_private_key(written.read_bytes(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 2048


def test_a_restart_reuses_the_key_instead_of_generating_another(tmp_path: Path) -> None:
    first = load_key_ring(tmp_path, None, may_generate=True, now=NOW)
    second = load_key_ring(tmp_path, None, may_generate=True, now=NOW + timedelta(hours=1))
    assert first.signing.kid == second.signing.kid
    assert len(list(tmp_path.glob("*.pem"))) == 1


def test_production_without_a_key_refuses_to_start_and_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="PIXTRACT_AUTH_SIGNING_KEY_FILE"):
        load_key_ring(tmp_path / "keys", None, may_generate=False, now=NOW)
    assert not (tmp_path / "keys").exists()


def test_after_rotation_the_newest_key_signs_and_the_old_one_stays_published(tmp_path: Path) -> None:
    _, old = write_new_key(tmp_path, NOW)
    _, new = write_new_key(tmp_path, NOW + timedelta(days=90))
    ring = load_key_ring(tmp_path, None, may_generate=False, now=NOW)
    assert ring.signing.kid == new.kid
    assert {k["kid"] for k in ring.jwks()["keys"]} == {old.kid, new.kid}
    assert [k.kid for k in read_key_dir(tmp_path)] == [old.kid, new.kid]


def test_a_mounted_key_file_signs_and_keys_in_the_directory_stay_published(tmp_path: Path) -> None:
    _, previous = write_new_key(tmp_path / "dir", NOW)
    mounted_path, mounted = write_new_key(tmp_path / "secret", NOW - timedelta(days=1))
    ring = load_key_ring(tmp_path / "dir", mounted_path, may_generate=False, now=NOW)
    assert ring.signing.kid == mounted.kid
    assert {k["kid"] for k in ring.jwks()["keys"]} == {previous.kid, mounted.kid}


def test_a_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="cannot read the signing key"):
        load_key_ring(tmp_path, tmp_path / "absent.pem", may_generate=True, now=NOW)


def test_non_rsa_short_encrypted_and_garbage_keys_are_refused(tmp_path: Path) -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(SigningKeyError, match="RSA key is required"):
        SigningKey.from_pem(ec_pem)
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    short_pem = short.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(SigningKeyError, match="at least 2048 bits"):
        SigningKey.from_pem(short_pem)
    encrypted_pem = short.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    with pytest.raises(SigningKeyError, match="encrypted"):
        SigningKey.from_pem(encrypted_pem)
    (tmp_path / "broken.pem").write_text("not a key")
    with pytest.raises(SigningKeyError, match=r"broken\.pem"):
        load_key_ring(tmp_path, None, may_generate=True, now=NOW)
