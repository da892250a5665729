"""Helpers shared by the wallet's services: asset lookup, permissions, the user's
second factor. Status changes go through `config.transitions.transition`."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.selectors import user_has_two_factor
from accounts.services import otp_verify
from config.domain_errors import ApplicationError, Forbidden, RateLimited, Unprocessable
from wallet.errors import WalletErrorCode as Code
from wallet.models import Asset


def asset_get(*, code: str, field: str = "asset", active: bool = True) -> Asset:
    """The asset with this code; `unknown_asset` (400) or `asset_inactive` (422)."""
    asset = Asset.objects.filter(code=str(code).strip().upper()).first()
    if asset is None:
        raise ApplicationError(
            Code.UNKNOWN_ASSET,
            f"{field}: unknown asset {code!r}.",
            details={field: ["Unknown asset."]},
        )
    if active and not asset.is_active:
        raise Unprocessable(
            Code.ASSET_INACTIVE,
            f"{field}: {asset.code} is not active.",
            details={field: ["Asset is not active."]},
        )
    return asset


def require_perm(user: User, perm: str) -> None:
    if not (user.is_active and user.has_perm(perm)):
        raise Forbidden(
            Code.PERMISSION_DENIED, f"You need the {perm} permission for this."
        )


def _otp_failures_key(user: User) -> str:
    return f"wallet.otp-failures:{user.pk}"


def second_factor_check(*, user: User, otp: str | None, action: str) -> str | None:
    """When the user has a second factor (authenticator or backup codes), demand
    and check `otp` through the accounts app's locked path (a code works once, even
    for concurrent requests). Returns how it was confirmed (`totp` or
    `backup_code`), or None when the user has no second factor.

    Wrong codes are counted in the cache, which a rolled-back transaction does
    not undo: after WALLET_OTP_FAILURE_LIMIT of them within
    WALLET_OTP_FAILURE_WINDOW_MINUTES, every code is refused (429 `otp_locked`)
    until the window has passed, so codes cannot be guessed through requests that
    fail and roll back."""
    if not user_has_two_factor(user=user):
        return None
    if otp is None or not otp.strip():
        raise Forbidden(
            Code.OTP_REQUIRED,
            f"otp: two-factor is on; confirm {action} with the current code from "
            "your authenticator or a backup code.",
            details={"otp": ["Required."]},
        )
    key = _otp_failures_key(user)
    window = settings.WALLET_OTP_FAILURE_WINDOW_MINUTES
    if cache.get(key, 0) >= settings.WALLET_OTP_FAILURE_LIMIT:
        raise RateLimited(
            Code.OTP_LOCKED,
            f"otp: too many wrong codes; try again in {window} minutes.",
            details={"otp": ["Too many wrong codes."]},
        )
    device = otp_verify(user=user, token=otp)
    if device is None:
        if not cache.add(key, 1, timeout=window * 60):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=window * 60)
        raise Forbidden(
            Code.OTP_INVALID,
            "otp: the code is wrong, expired or already used.",
            details={"otp": ["Invalid code."]},
        )
    return "totp" if isinstance(device, TOTPDevice) else "backup_code"
