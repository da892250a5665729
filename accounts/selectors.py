from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, QuerySet, Sum
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import queries
from accounts.models import (
    CREDENTIAL_STAFF_CODES,
    SECURITY_CODES,
    STAFF_ACTION_CODES,
    AuditEvent,
    RoleGrantRequest,
    User,
)


def security_event_list(*, user: User) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(user=user, code__in=SECURITY_CODES)


def totp_enabled(*, user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def user_has_two_factor(*, user: User) -> bool:
    """Any confirmed device (authenticator or backup codes) makes login two-step."""
    return queries.user_has_confirmed_device(user_id=user.pk)


def recovery_codes_remaining(*, user: User) -> int:
    from accounts.services.factors import RECOVERY_DEVICE_NAME

    return StaticDevice.objects.filter(
        user=user, name=RECOVERY_DEVICE_NAME, confirmed=True
    ).aggregate(n=Count("token_set"))["n"]


def passkey_list(*, user: User) -> QuerySet:
    from django_otp_webauthn.models import WebAuthnCredential

    return WebAuthnCredential.objects.filter(user=user).order_by("created_at", "pk")


def user_withdrawal_cooloff_until(*, user: User) -> datetime | None:
    """When the cool-off on this user's withdrawals ends, if one is running: a
    member of staff touched their credentials, email, phone or second factor
    less than BACKOFFICE_CREDENTIAL_COOLOFF_HOURS ago (a takeover by staff must
    not be able to pay out at once)."""
    window = timedelta(hours=settings.BACKOFFICE_CREDENTIAL_COOLOFF_HOURS)
    last = (
        AuditEvent.objects.filter(
            user=user,
            code__in=CREDENTIAL_STAFF_CODES,
            created_at__gt=timezone.now() - window,
        )
        .exclude(acting_user=user)
        .aggregate(last=Max("created_at"))["last"]
    )
    return None if last is None else last + window


def staff_acted_on_user_recently(*, staff: User, user: User) -> bool:
    """True if `staff` performed a staff action on `user` within the cool-off
    (BACKOFFICE_STAFF_ACTION_COOLOFF_HOURS): such a person may not approve the
    user's withdrawals or adjustments."""
    window = timedelta(hours=settings.BACKOFFICE_STAFF_ACTION_COOLOFF_HOURS)
    return AuditEvent.objects.filter(
        user=user,
        acting_user=staff,
        code__in=STAFF_ACTION_CODES,
        created_at__gt=timezone.now() - window,
    ).exists()


def user_failed_login_count(*, user: User) -> int:
    """Failed logins django-axes records against this user's email (any address),
    kept `LOGIN_LOCKOUT_FORGET_HOURS` like the lockout's own counters
    (accounts/lockout.py), or until staff clear them."""
    from axes.models import AccessAttempt

    return (
        AccessAttempt.objects.filter(username__iexact=user.email).aggregate(
            total=Sum("failures_since_start")
        )["total"]
        or 0
    )


def role_grant_requests_waiting(*, for_user: User | None = None) -> QuerySet:
    """Role grant requests waiting for a second administrator, oldest first;
    with `for_user`, only those that person may decide (not their own request,
    not a role for themselves)."""
    waiting = RoleGrantRequest.objects.filter(
        status=RoleGrantRequest.Status.REQUESTED
    ).select_related("user", "requested_by")
    if for_user is not None:
        waiting = waiting.exclude(requested_by=for_user).exclude(user=for_user)
    return waiting.order_by("created_at", "id")


def user_by_id(*, user_id: int) -> User | None:
    """The user with this id, as `User.objects.get` would build it, or None
    (every authenticated API request reads its user: accounts/queries.py)."""
    return queries.user_by_id(user_id=user_id)
