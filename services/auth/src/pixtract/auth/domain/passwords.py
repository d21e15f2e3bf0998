"""Password policy (NIST SP 800-63B style: length and a blocklist, no composition rules) and argon2id hashing."""

from __future__ import annotations

import secrets
from functools import cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from pixtract.auth.domain.emails import NormalisedEmail

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
MIN_DISTINCT_CHARACTERS = 3


class WeakPassword(ValueError):
    """The password breaks the policy; the message tells the user which rule, never a hint of the hash."""


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files(__package__).joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_password_policy(password: str, email: NormalisedEmail) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.")
    folded = password.casefold()
    if folded in common_passwords():
        raise WeakPassword("This password is one of the most commonly used passwords; choose another.")
    if folded in {email.key.casefold(), email.local_part.casefold()}:
        raise WeakPassword("The password must not be your email address.")
    if len(set(folded)) < MIN_DISTINCT_CHARACTERS:
        raise WeakPassword(f"The password must use at least {MIN_DISTINCT_CHARACTERS} different characters.")


class PasswordHashing:
    """argon2id through argon2-cffi; CPU- and memory-heavy, so callers run it in a worker thread."""

    def __init__(self, *, time_cost: int, memory_cost_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified against when the email is unknown, so that answer takes as long as a wrong password.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when the password matches; with no stored hash, spends the same time and answers False."""
        try:
            return self._hasher.verify(stored_hash or self._dummy_hash, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
