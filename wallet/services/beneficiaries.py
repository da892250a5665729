"""The beneficiary address book: add (pending) -> confirm -> usable after the
cool-off; remove at any time.

Confirmation proves the account holder asked for this destination: with a second
factor on, a current TOTP code or a backup code; without one, a single-use signed
link emailed to the account's address (valid WALLET_BENEFICIARY_LINK_MINUTES,
opened while logged in as that user). A confirmed beneficiary is usable for
withdrawals from `usable_from` = confirmation + WALLET_BENEFICIARY_COOLOFF_HOURS.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.selectors import user_has_two_factor
from accounts.services import RequestMeta, audit_event_record
from config.domain_errors import ApplicationError, Conflict, NotFound
from config.transitions import transition
from wallet.destinations import PayoutRail, destination_normalize
from wallet.errors import WalletErrorCode as Code
from wallet.models import Beneficiary, BeneficiaryStatusChange
from wallet.services.common import second_factor_check

logger = logging.getLogger(__name__)

LINK_SALT = "wallet.beneficiary.confirm"


# --- The emailed link ---------------------------------------------------------------


def beneficiary_link_token(*, beneficiary: Beneficiary) -> str:
    """A signed, timestamped token naming this beneficiary and its owner."""
    return signing.dumps(
        {"b": beneficiary.pk, "u": beneficiary.user_id}, salt=LINK_SALT
    )


def beneficiary_link_read(*, token: str) -> int:
    """The beneficiary id a link token names; 400 `confirmation_link_expired` or
    `confirmation_link_invalid` (field `token`)."""
    max_age = timedelta(minutes=settings.WALLET_BENEFICIARY_LINK_MINUTES)
    try:
        data = signing.loads(token or "", salt=LINK_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise ApplicationError(
            Code.CONFIRMATION_LINK_EXPIRED,
            "token: this confirmation link has expired; ask for a new one.",
            details={"token": ["Expired."]},
        ) from None
    except signing.BadSignature:
        raise ApplicationError(
            Code.CONFIRMATION_LINK_INVALID,
            "token: this confirmation link is not valid.",
            details={"token": ["Invalid."]},
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("b"), int):
        raise ApplicationError(
            Code.CONFIRMATION_LINK_INVALID,
            "token: this confirmation link is not valid.",
            details={"token": ["Invalid."]},
        )
    return data["b"]


def _link_email_send(*, beneficiary_id: int, token: str, site_url: str) -> None:
    beneficiary = Beneficiary.objects.select_related("user").get(pk=beneficiary_id)
    path = reverse("wallet:beneficiary-confirm-link", args=[token])
    minutes = settings.WALLET_BENEFICIARY_LINK_MINUTES
    body = "\n".join(
        [
            f"Hello {beneficiary.user.full_name or beneficiary.user.email},",
            "",
            "You asked to add a withdrawal destination to your address book:",
            f"  {beneficiary.label}: {beneficiary.get_rail_display()} "
            f"{beneficiary.destination}",
            "",
            f"Confirm it within {minutes} minutes (log in first if asked):",
            f"  {site_url.rstrip('/')}{path}",
            "",
            "It becomes usable for withdrawals "
            f"{settings.WALLET_BENEFICIARY_COOLOFF_HOURS} hours after you confirm.",
            "If you did not ask for this, do not open the link; change your "
            "password and turn on two-factor login.",
            "",
            "— The Exchange team",
        ]
    )
    send_mail(
        "Confirm your new withdrawal destination",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [beneficiary.user.email],
        fail_silently=False,
    )


def _link_email_on_commit(*, beneficiary: Beneficiary, site_url: str) -> None:
    token = beneficiary_link_token(beneficiary=beneficiary)
    beneficiary_id = beneficiary.pk

    def _send() -> None:
        try:
            _link_email_send(
                beneficiary_id=beneficiary_id, token=token, site_url=site_url
            )
        except Exception:  # a mail outage must not undo the committed row
            logger.exception("Beneficiary link email for %s failed", beneficiary_id)

    transaction.on_commit(_send)


def _confirmed_email_send(*, beneficiary_id: int) -> None:
    beneficiary = Beneficiary.objects.select_related("user").get(pk=beneficiary_id)
    assert beneficiary.usable_from is not None  # set on confirmation (a CHECK)
    when = beneficiary.usable_from.strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(
        [
            f"Hello {beneficiary.user.full_name or beneficiary.user.email},",
            "",
            "A new withdrawal destination was confirmed on your account:",
            f"  {beneficiary.label}: {beneficiary.get_rail_display()} "
            f"{beneficiary.destination}",
            "",
            f"Withdrawals to it are possible from {when}.",
            "If this was not you, remove it on your Beneficiaries page, change your "
            "password and contact support before then.",
            "",
            "— The Exchange team",
        ]
    )
    send_mail(
        "A new withdrawal destination was confirmed",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [beneficiary.user.email],
        fail_silently=False,
    )


def _confirmed_email_on_commit(*, beneficiary: Beneficiary) -> None:
    beneficiary_id = beneficiary.pk

    def _send() -> None:
        try:
            _confirmed_email_send(beneficiary_id=beneficiary_id)
        except Exception:  # a mail outage must not undo the committed row
            logger.exception("Beneficiary notice for %s failed", beneficiary_id)

    transaction.on_commit(_send)


# --- Writes -------------------------------------------------------------------------


def _lock(beneficiary: Beneficiary) -> Beneficiary:
    return Beneficiary.objects.select_for_update().get(pk=beneficiary.pk)


def _owned(beneficiary: Beneficiary, user: User) -> None:
    if beneficiary.user_id != user.pk:
        raise NotFound(Code.NOT_FOUND, "No such beneficiary.")


def _require_pending(beneficiary: Beneficiary) -> None:
    if beneficiary.status != Beneficiary.Status.PENDING:
        raise Conflict(
            Code.BENEFICIARY_NOT_PENDING,
            f"status: this beneficiary is {beneficiary.status}; a confirmation "
            "works once, on a beneficiary waiting for it.",
            details={"status": [beneficiary.status]},
        )


@transaction.atomic
def beneficiary_add(
    *,
    user: User,
    rail: str,
    destination: str,
    label: str = "",
    site_url: str = "",
    meta: RequestMeta | None = None,
) -> Beneficiary:
    """Validate and normalize the destination, store it `pending_confirmation`.
    Without a second factor, email the confirmation link after commit (`site_url`
    is the site's origin for the link, e.g. from the request)."""
    return _add(
        user=user,
        rail=rail,
        destination=destination,
        label=label,
        site_url=site_url,
        meta=meta,
        email_link=True,
    )


def _add(
    *,
    user: User,
    rail: str,
    destination: str,
    label: str,
    site_url: str,
    meta: RequestMeta | None,
    email_link: bool,
) -> Beneficiary:
    normalized = destination_normalize(rail=rail, destination=destination)
    label = (label or "").strip()[:64] or (
        f"{PayoutRail(rail).label} ...{normalized[-4:]}"
    )
    clash = Beneficiary.objects.filter(
        user=user, rail=rail, destination=normalized
    ).exclude(status=Beneficiary.Status.REMOVED)
    if clash.exists():
        raise Conflict(
            Code.BENEFICIARY_EXISTS,
            "destination: this destination is already in your address book.",
            details={"destination": ["Already in your address book."]},
        )
    try:
        with transaction.atomic():
            beneficiary = Beneficiary.objects.create(
                user=user, rail=rail, label=label, destination=normalized
            )
    except IntegrityError:  # a concurrent twin added it first
        raise Conflict(
            Code.BENEFICIARY_EXISTS,
            "destination: this destination is already in your address book.",
            details={"destination": ["Already in your address book."]},
        ) from None
    BeneficiaryStatusChange.objects.create(
        beneficiary=beneficiary, new_status=beneficiary.status, acting_user=user
    )
    two_factor = user_has_two_factor(user=user)
    audit_event_record(
        code=AuditCode.BENEFICIARY_ADDED,
        user=user,
        acting_user=user,
        target=beneficiary,
        meta=meta,
        extra={
            "rail": rail,
            "destination": normalized,
            "label": label,
            "confirm_with": "second_factor" if two_factor else "email_link",
        },
    )
    if email_link and not two_factor:
        _link_email_on_commit(beneficiary=beneficiary, site_url=site_url)
    return beneficiary


def _confirm(
    *,
    beneficiary: Beneficiary,
    acting_user: User | None,
    method: str,
    at: datetime,
    meta: RequestMeta | None,
) -> Beneficiary:
    """Move a locked pending beneficiary to confirmed at `at`; audit it."""
    _require_pending(beneficiary)
    cooloff = timedelta(hours=settings.WALLET_BENEFICIARY_COOLOFF_HOURS)
    old = transition(
        obj=beneficiary,
        to=Beneficiary.Status.CONFIRMED,
        history=BeneficiaryStatusChange,
        fields={"confirmed_at": at, "usable_from": at + cooloff},
        history_fields={"acting_user": acting_user, "note": f"confirmed by {method}"},
    )
    audit_event_record(
        code=AuditCode.BENEFICIARY_CONFIRMED,
        user=beneficiary.user,
        acting_user=acting_user,
        target=beneficiary,
        meta=meta,
        extra={
            "old": old,
            "new": beneficiary.status,
            "method": method,
            "usable_from": beneficiary.usable_from.isoformat()
            if beneficiary.usable_from
            else None,
        },
    )
    if method != "seed":
        # The account holder hears of every new destination, whoever confirmed
        # it: the cool-off gives them time to act on a takeover.
        _confirmed_email_on_commit(beneficiary=beneficiary)
    return beneficiary


def beneficiary_confirm(
    *,
    beneficiary: Beneficiary,
    user: User,
    otp: str = "",
    token: str = "",
    meta: RequestMeta | None = None,
) -> Beneficiary:
    """Confirm a pending beneficiary: with the user's second factor when it is on
    (`otp`: TOTP or backup code; 403 `otp_required` / `otp_invalid`), else with
    the emailed link's `token` (400 `confirmation_link_*`). A second use is 409
    `beneficiary_not_pending`.

    The code is checked before the confirming transaction, in its own (the
    accounts app's locked path), so a wrong code counts against the device's
    throttle even though nothing is confirmed."""
    _owned(beneficiary, user)
    _require_pending(beneficiary)
    method = second_factor_check(user=user, otp=otp, action="this beneficiary")
    if method is None:
        if not (token or "").strip():
            raise ApplicationError(
                Code.CONFIRMATION_LINK_INVALID,
                "token: confirm with the link we emailed you (two-factor is off).",
                details={"token": ["Required."]},
            )
        if beneficiary_link_read(token=token) != beneficiary.pk:
            raise ApplicationError(
                Code.CONFIRMATION_LINK_INVALID,
                "token: this confirmation link is for another beneficiary.",
                details={"token": ["Invalid."]},
            )
        method = "email_link"
    with transaction.atomic():
        return _confirm(
            beneficiary=_lock(beneficiary),
            acting_user=user,
            method=method,
            at=timezone.now(),
            meta=meta,
        )


@transaction.atomic
def beneficiary_link_resend(
    *, beneficiary: Beneficiary, user: User, site_url: str = ""
) -> Beneficiary:
    """Email a fresh confirmation link (the old one still works until it
    expires). Only for a pending beneficiary of a user without a second factor."""
    _owned(beneficiary, user)
    beneficiary = _lock(beneficiary)
    _require_pending(beneficiary)
    if user_has_two_factor(user=user):
        raise Conflict(
            Code.OTP_REQUIRED,
            "otp: two-factor is on; confirm with your code instead of a link.",
            details={"otp": ["Required."]},
        )
    _link_email_on_commit(beneficiary=beneficiary, site_url=site_url)
    return beneficiary


@transaction.atomic
def beneficiary_remove(
    *, beneficiary: Beneficiary, user: User, meta: RequestMeta | None = None
) -> Beneficiary:
    """Take a destination out of the address book. Withdrawals already requested
    to it keep their snapshot; no new one can use it."""
    _owned(beneficiary, user)
    beneficiary = _lock(beneficiary)
    old = transition(
        obj=beneficiary,
        to=Beneficiary.Status.REMOVED,
        history=BeneficiaryStatusChange,
        history_fields={"acting_user": user},
    )
    audit_event_record(
        code=AuditCode.BENEFICIARY_REMOVED,
        user=user,
        acting_user=user,
        target=beneficiary,
        meta=meta,
        extra={
            "old": old,
            "new": beneficiary.status,
            "rail": beneficiary.rail,
            "destination": beneficiary.destination,
        },
    )
    return beneficiary


@transaction.atomic
def beneficiary_seed_confirmed(
    *, user: User, rail: str, destination: str, label: str, confirmed_at: datetime
) -> Beneficiary:
    """Demo data only (`seed_demo`): add a beneficiary already confirmed at
    `confirmed_at` (in the past, so it is usable at once), audited as such."""
    beneficiary = _add(
        user=user,
        rail=rail,
        destination=destination,
        label=label,
        site_url="",
        meta=None,
        email_link=False,
    )
    return _confirm(
        beneficiary=_lock(beneficiary),
        acting_user=None,
        method="seed",
        at=confirmed_at,
        meta=None,
    )
