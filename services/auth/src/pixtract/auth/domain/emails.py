"""Email addresses as accounts know them: normalised for display, folded for uniqueness."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email


class InvalidEmail(ValueError):
    """Not an email address; the message says why, for the client."""


@dataclass(frozen=True)
class NormalisedEmail:
    address: str
    # Login and uniqueness ignore case: "Ann@x.org" and "ann@x.org" are one person in practice,
    # although RFC 5321 lets a server tell their local parts apart.
    key: str

    @property
    def local_part(self) -> str:
        return self.address.rpartition("@")[0]


def normalise_email(raw: str) -> NormalisedEmail:
    """Strip, validate (syntax only, no DNS), lower-case the domain, keep the local part's case for display."""
    try:
        validated = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from exc
    return NormalisedEmail(address=validated.normalized, key=validated.normalized.lower())
