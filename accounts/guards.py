"""Checks other apps' services call before acting for a user.

`email_verified_require` is the one place that says an unverified email address
may not submit KYC, deposit or trade (docs/accounts.md, "Email verification")."""

from __future__ import annotations

from accounts.errors import AccountsErrorCode as Code
from accounts.models import User
from config.domain_errors import Forbidden


def email_verified_require(*, user: User) -> None:
    """403 `email_not_verified` unless the user's email address is verified.

    Reads the user object it is given (no query on the hot paths, where the
    request's user is fresh); only an object that says "unverified" is checked
    against the database, in case the link was followed since it was loaded."""
    if user.email_verified_at is not None:
        return
    if User.objects.filter(pk=user.pk, email_verified_at__isnull=False).exists():
        return
    raise Forbidden(
        Code.EMAIL_NOT_VERIFIED,
        "email: verify your email address first: follow the link we sent you "
        "(your security page sends a new one).",
        details={"email": ["Not verified."]},
    )
