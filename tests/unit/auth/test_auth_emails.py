"""Email normalisation with email-validator (syntax only, no DNS)."""

from __future__ import annotations

import pytest

from pixtract.auth.domain.emails import InvalidEmail, normalise_email


def test_whitespace_is_stripped_and_the_domain_lower_cased() -> None:
    email = normalise_email("  Ada.Lovelace@EXAMPLE.Org \n")
    assert email.address == "Ada.Lovelace@example.org"
    assert email.local_part == "Ada.Lovelace"


def test_the_key_ignores_case_so_one_person_has_one_account() -> None:
    assert normalise_email("Ada@Example.org").key == normalise_email("ada@example.ORG").key == "ada@example.org"


def test_internationalised_domains_are_normalised() -> None:
    assert normalise_email("anna@BÜCHER.example").address == "anna@bücher.example"


def test_no_dns_lookup_is_made_for_a_domain_that_does_not_exist() -> None:
    # Unit tests run without sockets: a deliverability check would fail here.
    assert normalise_email("x@no-such-domain.invalid-tld-zz").address == "x@no-such-domain.invalid-tld-zz"


@pytest.mark.parametrize("raw", ["", "plainaddress", "@example.org", "ada@", "ada@@example.org", "ada lovelace@x.org"])
def test_invalid_addresses_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(InvalidEmail) as refused:
        normalise_email(raw)
    assert str(refused.value)
