"""The user's own data: export it, close the account.

Closing keeps what the law makes us keep (identity records, the ledger, orders,
fills, money movements, the audit trail: docs/accounts.md, "Retention") and
erases or masks the rest of the personal data in the same transaction."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.errors import AccountsErrorCode as Code
from accounts.models import AuditCode, AuditEvent, User
from accounts.selectors import user_has_two_factor
from accounts.services import (
    RequestMeta,
    _revoke_all_tokens,
    audit_event_record,
    otp_verify,
)
from config.domain_errors import ApplicationError, Conflict, RateLimited
from marketdata.models import UserEvent
from privacy.selectors import closure_blockers, export_sections
from trading.models import PriceAlert
from wallet.models import BalanceAlert

EXPORT_FORMAT = "exchange-data-export/1"


def _export_limit_check(user: User) -> None:
    """A few exports an hour (EXPORT_PER_HOUR): each reads the whole history."""
    since = timezone.now() - timedelta(hours=1)
    recent = list(
        AuditEvent.objects.filter(
            user=user, code=AuditCode.DATA_EXPORTED, created_at__gte=since
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)[: settings.PRIVACY_EXPORTS_PER_HOUR]
    )
    if len(recent) >= settings.PRIVACY_EXPORTS_PER_HOUR:
        wait = recent[-1] + timedelta(hours=1) - timezone.now()
        seconds = max(1, math.ceil(wait.total_seconds()))
        raise RateLimited(
            Code.EXPORT_RATE_LIMITED,
            f"You exported your data {len(recent)} times in the last hour; try "
            f"again in {math.ceil(seconds / 60)} minutes.",
            details={"retry_after_seconds": seconds},
        )


@transaction.atomic
def user_data_export(*, user: User, meta: RequestMeta | None = None) -> Iterator[str]:
    """Record the export (124), then return the JSON document as text chunks
    (read lazily, section by section, by the response that streams it)."""
    User.objects.select_for_update().filter(pk=user.pk).first()  # one at a time
    _export_limit_check(user)
    audit_event_record(
        code=AuditCode.DATA_EXPORTED, user=user, acting_user=user, meta=meta
    )
    return _export_chunks(user, generated_at=timezone.now())


def _export_chunks(user: User, *, generated_at) -> Iterator[str]:
    encode = DjangoJSONEncoder().encode
    yield (
        f'{{"format": {encode(EXPORT_FORMAT)}, "generated_at": {encode(generated_at)}'
    )
    for name, value in export_sections(user=user):
        if isinstance(value, dict) or value is None:
            yield f", {encode(name)}: {encode(value)}"
            continue
        assert isinstance(value, Iterable)  # a list section: rows, read lazily
        yield f", {encode(name)}: ["
        for index, row in enumerate(value):
            yield ("," if index else "") + json.dumps(row, cls=DjangoJSONEncoder)
        yield "]"
    yield "}\n"


def _check_credentials(user: User, *, password: str, otp: str | None) -> None:
    if not user.check_password(password):
        raise ApplicationError(
            Code.INVALID_CREDENTIALS,
            "password: the password is wrong.",
            details={"password": ["Wrong password."]},
        )
    if user_has_two_factor(user=user) and (
        not otp or otp_verify(user=user, token=otp) is None
    ):
        raise ApplicationError(
            Code.OTP_INVALID,
            "otp: give the current code of your second factor.",
            details={"otp": ["Invalid code."]},
        )


@transaction.atomic
def account_close(
    *, user: User, password: str, otp: str | None = None, meta: RequestMeta | None
) -> User:
    """Close the account for good, once nothing is held or open in it: every
    session and token ends, sign-in is impossible, and the personal data not under
    retention is erased or masked. The user is told at their address as it was."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.status == User.Status.CLOSED:
        raise Conflict(Code.ACCOUNT_CLOSED, "This account is already closed.")
    _check_credentials(user, password=password, otp=otp)
    if blockers := closure_blockers(user=user):
        raise Conflict(
            Code.ACCOUNT_NOT_EMPTY,
            "The account still holds money or has something open: "
            + " ".join(blocker.message for blocker in blockers),
            details={
                "blockers": [{"code": b.code, "message": b.message} for b in blockers]
            },
        )
    address, name = user.email, user.full_name
    revoked = _revoke_all_tokens(user)
    user.refresh_from_db()
    user.email = f"closed-{user.pk}@closed.invalid"
    user.full_name = "Closed account"
    user.phone = ""
    user.set_unusable_password()
    user.status = User.Status.CLOSED
    user.closed_at = timezone.now()
    user.save(
        update_fields=[
            "email",
            "full_name",
            "phone",
            "password",
            "status",
            "closed_at",
        ]
    )
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    # Not needed by any record kept: the stream's replay buffer and the alerts.
    # Payout destinations stay, with their history: they are money-movement
    # records (docs/accounts.md, "Retention").
    UserEvent.objects.filter(user=user).delete()
    BalanceAlert.objects.filter(user=user).delete()
    PriceAlert.objects.filter(user=user).delete()
    audit_event_record(
        code=AuditCode.ACCOUNT_CLOSED,
        user=user,
        acting_user=user,
        meta=meta,
        extra={"refresh_tokens": revoked},
    )
    transaction.on_commit(lambda: _closed_email(address=address, name=name))
    return user


def _closed_email(*, address: str, name: str) -> None:
    send_mail(
        "Your account is closed",
        f"Hello {name},\n\n"
        "Your exchange account was closed at your request. You can no longer sign "
        "in, and every session and API token has ended.\n\n"
        "We keep the records the law requires (identity checks, your orders, "
        "trades and money movements, and the security log) for the retention "
        "period in our privacy notice; the rest of your personal data has been "
        "erased.\n\n"
        "If you did not close your account, contact support at once.\n",
        None,
        [address],
    )
