"""Per-user fee overrides, set and removed by staff, each write audited.

An order keeps the rates of the moment it was placed, so a change applies to new
orders only.
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.domain_errors import ApplicationError
from trading.errors import TradingErrorCode as Code
from trading.models import FeeOverride, Instrument

MAX_FEE_BPS = 1000


def _check_bps(field: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApplicationError(
            Code.INVALID_FEE,
            f"{field}: must be a whole number of basis points.",
            details={field: ["A whole number of basis points."]},
        )
    if not 0 <= value <= MAX_FEE_BPS:
        raise ApplicationError(
            Code.INVALID_FEE,
            f"{field}: must be between 0 and {MAX_FEE_BPS} basis points.",
            details={field: [f"Between 0 and {MAX_FEE_BPS}."]},
        )
    return value


def _scope(instrument: Instrument | None) -> str:
    return instrument.symbol if instrument is not None else "*"


@transaction.atomic
def fee_override_set(
    *,
    user: User,
    instrument: Instrument | None,
    maker_fee_bps: int,
    taker_fee_bps: int,
    acting_user: User | None = None,
    meta: RequestMeta | None = None,
) -> FeeOverride:
    """Give `user` these rates on `instrument` (or on every instrument when it is
    None), creating or changing the one override for that pair. FEE_OVERRIDE_SET
    with old and new; setting the rates it already has writes nothing."""
    _check_bps("maker_fee_bps", maker_fee_bps)
    _check_bps("taker_fee_bps", taker_fee_bps)
    # Lock the user's row first: two staff setting the same pair queue here, so
    # the get-or-create below cannot race into the unique constraint.
    User.objects.select_for_update().filter(pk=user.pk).first()
    override = (
        FeeOverride.objects.select_for_update()
        .filter(user=user, instrument=instrument)
        .first()
    )
    new = {"maker_fee_bps": maker_fee_bps, "taker_fee_bps": taker_fee_bps}
    if override is None:
        old = None
        override = FeeOverride.objects.create(user=user, instrument=instrument, **new)
    else:
        old = {
            "maker_fee_bps": override.maker_fee_bps,
            "taker_fee_bps": override.taker_fee_bps,
        }
        if old == new:
            return override
        override.maker_fee_bps = maker_fee_bps
        override.taker_fee_bps = taker_fee_bps
        override.save(update_fields=["maker_fee_bps", "taker_fee_bps"])
    audit_event_record(
        code=AuditCode.FEE_OVERRIDE_SET,
        user=user,
        acting_user=acting_user,
        target=override,
        meta=meta,
        extra={"instrument": _scope(instrument), "old": old, "new": new},
    )
    return override


@transaction.atomic
def fee_override_remove(
    *,
    override: FeeOverride,
    acting_user: User | None = None,
    meta: RequestMeta | None = None,
) -> bool:
    """Remove an override: the user pays the instrument's rates again on new
    orders (FEE_OVERRIDE_REMOVED with the rates removed). False if it was gone."""
    locked = (
        FeeOverride.objects.select_for_update(of=("self",))
        .select_related("user", "instrument")
        .filter(pk=override.pk)
        .first()
    )
    if locked is None:
        return False
    audit_event_record(
        code=AuditCode.FEE_OVERRIDE_REMOVED,
        user=locked.user,
        acting_user=acting_user,
        target=locked,
        meta=meta,
        extra={
            "instrument": _scope(locked.instrument),
            "old": {
                "maker_fee_bps": locked.maker_fee_bps,
                "taker_fee_bps": locked.taker_fee_bps,
            },
            "new": None,
        },
    )
    locked.delete()
    return True
