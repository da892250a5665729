from django.db.models import QuerySet
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import SECURITY_CODES, AuditEvent, User


def security_event_list(*, user: User) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(user=user, code__in=SECURITY_CODES)


def totp_enabled(*, user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def user_has_two_factor(*, user: User) -> bool:
    """Any confirmed device (authenticator or backup codes) makes login two-step."""
    return (
        totp_enabled(user=user)
        or StaticDevice.objects.filter(user=user, confirmed=True).exists()
    )
