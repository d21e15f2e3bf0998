"""Password policy and argon2id hashing."""

from __future__ import annotations

import pytest

from pixtract.auth.domain.emails import normalise_email
from pixtract.auth.domain.passwords import (
    MIN_PASSWORD_LENGTH,
    PasswordHashing,
    WeakPassword,
    check_password_policy,
    common_passwords,
)

EMAIL = normalise_email("Ada.Lovelace@Example.org")


def test_a_long_uncommon_password_passes() -> None:
    check_password_policy("correct-stapler-orbit-42", EMAIL)


@pytest.mark.parametrize("password", ["", "short", "nine-char"])
def test_passwords_shorter_than_the_minimum_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword, match=f"at least {MIN_PASSWORD_LENGTH} characters"):
        check_password_policy(password, EMAIL)


def test_exactly_the_minimum_length_is_enough() -> None:
    check_password_policy("x7#kq2!mzp", EMAIL)


@pytest.mark.parametrize("password", ["1234567890", "qwertyuiop", "Password123", "1Q2W3E4R5T", "iloveyou123"])
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    with pytest.raises(WeakPassword, match="most commonly used"):
        check_password_policy(password, EMAIL)


def test_the_shipped_list_has_hundreds_of_entries_and_long_ones_among_them() -> None:
    listed = common_passwords()
    assert len(listed) >= 300
    assert sum(1 for p in listed if len(p) >= MIN_PASSWORD_LENGTH) >= 100
    assert all(p == p.casefold() and p.strip() == p and not p.startswith("#") for p in listed)


@pytest.mark.parametrize("password", ["ada.lovelace@example.org", "ADA.LOVELACE@EXAMPLE.ORG", "Ada.Lovelace"])
def test_the_email_or_its_local_part_is_refused(password: str) -> None:
    with pytest.raises(WeakPassword, match="email"):
        check_password_policy(password, EMAIL)


def test_a_password_of_one_or_two_repeated_characters_is_refused() -> None:
    with pytest.raises(WeakPassword, match="different characters"):
        check_password_policy("abababababab", EMAIL)


def test_too_long_passwords_are_refused() -> None:
    with pytest.raises(WeakPassword, match="at most"):
        check_password_policy("a1b2c3" * 200, EMAIL)


def test_hash_is_argon2id_with_its_parameters_and_verifies_only_the_right_password(passwords: PasswordHashing) -> None:
    stored = passwords.hash("correct-stapler-orbit-42")
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert passwords.verify(stored, "correct-stapler-orbit-42")
    assert not passwords.verify(stored, "correct-stapler-orbit-43")


def test_two_hashes_of_one_password_differ_by_their_salt(passwords: PasswordHashing) -> None:
    assert passwords.hash("correct-stapler-orbit-42") != passwords.hash("correct-stapler-orbit-42")


def test_without_a_stored_hash_verify_still_hashes_and_answers_false(passwords: PasswordHashing) -> None:
    assert not passwords.verify(None, "anything at all")


def test_a_corrupt_stored_hash_does_not_verify(passwords: PasswordHashing) -> None:
    assert not passwords.verify("not-a-hash", "correct-stapler-orbit-42")


def test_a_hash_made_with_other_parameters_needs_rehash(passwords: PasswordHashing) -> None:
    stronger = PasswordHashing(time_cost=2, memory_cost_kib=16, parallelism=1)
    old = passwords.hash("correct-stapler-orbit-42")
    assert stronger.needs_rehash(old)
    assert not passwords.needs_rehash(old)
    # The parameters travel with the hash: the stronger hasher still verifies the old one.
    assert stronger.verify(old, "correct-stapler-orbit-42")
