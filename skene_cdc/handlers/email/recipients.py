"""One user, one address: the recipient of every email is checked with email-validator (a
maintained RFC 5321/5322 validator) when the delivery is enqueued and again right before it is
sent. `d@x.test, victim2@evil.test` or an address with CR/LF in it is not "two addresses" or a
header to fold: it is invalid, and the delivery fails permanently with the reason."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from skene_cdc.errors import SkeneError


class InvalidRecipient(SkeneError):
    """The user's address is not exactly one valid email address; retrying cannot fix it."""


def recipient(address: str) -> str:
    """The address, normalised (domain lower-cased and IDNA-encoded as needed), or
    InvalidRecipient saying why not. No DNS lookups: this runs inside batch transactions."""
    try:
        checked = validate_email(address, check_deliverability=False, allow_display_name=False,
                                 allow_quoted_local=False, allow_domain_literal=False,
                                 # `.test` addresses are how staging and the demo send mail
                                 test_environment=True)
    except EmailNotValidError as exc:
        raise InvalidRecipient(f"the recipient {address[:200]!r} is not one valid email address "
                               f"({exc}); nothing was sent to it",
                               hint="Fix the user's address in the app; this delivery is not "
                                    "retried") from None
    return checked.normalized
