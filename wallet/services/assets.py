"""Assets: created and edited by staff, each write audited with old and new values.

An asset's code and decimals are fixed once it exists (every stored amount is
counted in them), and so is its kind (fiat, crypto, security), which decides how
its withdrawals are paid out.
"""

from __future__ import annotations

import re

from django.db import transaction

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.domain_errors import ApplicationError, Conflict
from wallet.errors import WalletErrorCode as Code
from wallet.models import Asset
from wallet.money import MAX_UNITS, format_units

CODE_RE = re.compile(r"^[A-Z0-9]{2,16}$")
MAX_DECIMALS = 18
EDITABLE_FIELDS = ("name", "is_active", "daily_withdrawal_limit")


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        Code.INVALID_ASSET, f"{field}: {message}", details={field: [message]}
    )


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64:
        raise _invalid("name", "must be 1 to 64 characters.")
    return name


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise _invalid("daily_withdrawal_limit", "must be a whole number of units.")
    if not 0 <= limit <= MAX_UNITS:
        raise _invalid("daily_withdrawal_limit", "must be between 0 and the maximum.")
    return limit


def _shown(asset: Asset, field: str, value):
    """An audit value as people read it: limits as decimal strings."""
    if field == "daily_withdrawal_limit":
        return format_units(value, asset.decimals)
    return value


@transaction.atomic
def asset_create(
    *,
    code: str,
    name: str,
    decimals: int,
    kind: str,
    is_active: bool = True,
    daily_withdrawal_limit: int = 0,
    acting_user: User | None = None,
    meta: RequestMeta | None = None,
) -> Asset:
    """A new asset (ASSET_CREATED, the new values in `extra`)."""
    code = str(code).strip().upper()
    if not CODE_RE.match(code):
        raise _invalid("code", "use 2 to 16 capital letters or digits, e.g. USD.")
    name = _check_name(name)
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise _invalid("decimals", "must be a whole number.")
    if not 0 <= decimals <= MAX_DECIMALS:
        raise _invalid("decimals", f"must be between 0 and {MAX_DECIMALS}.")
    if kind not in Asset.Kind.values:
        raise _invalid("kind", f"one of {', '.join(Asset.Kind.values)}.")
    daily_withdrawal_limit = _check_limit(daily_withdrawal_limit)
    if Asset.objects.filter(code=code).exists():
        raise Conflict(
            Code.ASSET_EXISTS,
            f"code: an asset {code} exists.",
            details={"code": ["An asset with this code exists."]},
        )
    asset = Asset.objects.create(
        code=code,
        name=name,
        decimals=decimals,
        kind=kind,
        is_active=is_active,
        daily_withdrawal_limit=daily_withdrawal_limit,
    )
    audit_event_record(
        code=AuditCode.ASSET_CREATED,
        acting_user=acting_user,
        target=asset,
        meta=meta,
        extra={
            "old": None,
            "new": {
                "code": code,
                "name": name,
                "decimals": decimals,
                "kind": kind,
                "is_active": is_active,
                "daily_withdrawal_limit": format_units(
                    daily_withdrawal_limit, decimals
                ),
            },
        },
    )
    return asset


@transaction.atomic
def asset_update(
    *,
    asset: Asset,
    acting_user: User | None = None,
    meta: RequestMeta | None = None,
    **changes,
) -> Asset:
    """Change an asset's name, whether it is active, or its daily withdrawal limit
    (ASSET_UPDATED with the old and new values of what changed). Changing nothing
    writes nothing."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise _invalid(sorted(unknown)[0], "cannot be changed on an asset.")
    if "name" in changes:
        changes["name"] = _check_name(changes["name"])
    if "daily_withdrawal_limit" in changes:
        _check_limit(changes["daily_withdrawal_limit"])
    if "is_active" in changes:
        changes["is_active"] = bool(changes["is_active"])
    asset = Asset.objects.select_for_update().get(pk=asset.pk)
    changed = {
        field: value
        for field, value in changes.items()
        if getattr(asset, field) != value
    }
    if not changed:
        return asset
    old = {field: _shown(asset, field, getattr(asset, field)) for field in changed}
    for field, value in changed.items():
        setattr(asset, field, value)
    asset.save(update_fields=list(changed))
    audit_event_record(
        code=AuditCode.ASSET_UPDATED,
        acting_user=acting_user,
        target=asset,
        meta=meta,
        extra={
            "code": asset.code,
            "old": old,
            "new": {field: _shown(asset, field, v) for field, v in changed.items()},
        },
    )
    return asset
