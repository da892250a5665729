import copy
import threading
import time
from collections import OrderedDict
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, QuerySet, Sum
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.settings import api_settings as jwt_settings

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


# --- The user of an access token, kept per process for a few seconds ------------

# Up to this many tokens (user id, token version, token id), each for at most
# this long (a test's new token never meets an earlier test's user): a
# row that is not the token version's (a staff edit of a name, a deactivation)
# is served stale for at most the seconds below; a revocation is not (below).
TOKEN_USER_CACHE_SIZE = 4096
TOKEN_USER_CACHE_SECONDS = 10.0
_TOKEN_VERSION_KEY = "auth:token-version:{}"

_token_users: OrderedDict[tuple[int, int, str], tuple[float, User]] = OrderedDict()
_token_users_lock = threading.Lock()


def _token_version_key(user_id: int) -> str:
    return _TOKEN_VERSION_KEY.format(user_id)


def user_for_token(*, user_id: int, token_version: int, token_id: str) -> User | None:
    """The user an access token of `token_version` names, or None: read once and
    kept in this process for up to TOKEN_USER_CACHE_SECONDS (the JWT user read
    was about a sixth of a small API request's CPU).

    A kept user is served only while the shared cache holds no other token
    version for it (`user_token_version_publish`, on every revocation): a
    password change or a staff lock in any process ends the token on its next
    request here. Each caller gets its own copy: views may cache relations on
    it or change it."""
    key = (user_id, token_version, token_id)
    entry = _token_users.get(key)
    if entry is not None and entry[0] > time.monotonic():
        published = cache.get(_token_version_key(user_id))
        if published is None or published == token_version:
            return copy.copy(entry[1])
    with _token_users_lock:
        _token_users.pop(key, None)
    user = queries.user_by_id(user_id=user_id)
    if user is None or not user.is_active or user.token_version != token_version:
        return user  # the caller refuses it; nothing kept
    with _token_users_lock:
        _token_users[key] = (time.monotonic() + TOKEN_USER_CACHE_SECONDS, user)
        while len(_token_users) > TOKEN_USER_CACHE_SIZE:
            _token_users.popitem(last=False)
    return copy.copy(user)


def user_token_version_publish(*, user_id: int, token_version: int) -> None:
    """Tell every process the user's tokens are now of `token_version` (after
    the bump commits): kept users of older tokens are read again, and refused.
    Kept as long as an access token lives; older tokens are dead anyway."""
    lifetime = jwt_settings.ACCESS_TOKEN_LIFETIME
    cache.set(
        _token_version_key(user_id),
        token_version,
        timeout=int(lifetime.total_seconds()) + 1,
    )
    token_users_forget(user_id=user_id)


def token_users_forget(*, user_id: int) -> None:
    """Drop this process's kept users of `user_id` (at the bump, before its
    commit is published)."""
    with _token_users_lock:
        for key in [key for key in _token_users if key[0] == user_id]:
            del _token_users[key]
