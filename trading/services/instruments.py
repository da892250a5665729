"""Instrument lifecycle: creation with the exactness rule, edits, halts."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.domain_errors import ApplicationError
from config.events import record
from trading.errors import TradingErrorCode as Code
from trading.events import InstrumentStatusChanged
from trading.fees import fee_policy_default
from trading.models import Instrument
from trading.selectors import SYMBOL_RE
from wallet.models import Asset

FeePolicy = Instrument.FeePolicy
EDITABLE_FIELDS = (
    "min_quantity",
    "min_notional",
    "maker_fee_bps",
    "taker_fee_bps",
    "price_band_percent",
)


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        Code.INVALID_INSTRUMENT, f"{field}: {message}", details={field: [message]}
    )


def instrument_validate(
    *,
    base: Asset,
    quote: Asset,
    tick_size: int,
    lot_size: int,
    maker_fee_bps: int = 0,
    taker_fee_bps: int = 0,
    fee_policy: str = FeePolicy.QUOTE,
) -> None:
    """Every price x quantity must be an exact number of quote units: with prices in
    quote units per whole base unit, that is tick_size * lot_size divisible by
    10^base.decimals. Under the `received` fee policy a lot must be at least two
    base units: a buyer's fee rounded up to a whole unit would take a lot of one
    (any rate up to 10% leaves a buyer of two units at least one)."""
    if base.pk == quote.pk:
        raise _invalid("quote", "must differ from the base asset.")
    if tick_size <= 0:
        raise _invalid("tick_size", "must be positive.")
    if lot_size <= 0:
        raise _invalid("lot_size", "must be positive.")
    scale = 10**base.decimals
    if (tick_size * lot_size) % scale:
        raise _invalid(
            "tick_size",
            f"tick size x lot size ({tick_size} x {lot_size}) must be a multiple of "
            f"{scale} so that every price x quantity is an exact number of "
            f"{quote.code} units.",
        )
    for field, value in (
        ("maker_fee_bps", maker_fee_bps),
        ("taker_fee_bps", taker_fee_bps),
    ):
        if not 0 <= value <= 1000:
            raise _invalid(field, "must be between 0 and 1000 basis points.")
    if fee_policy not in FeePolicy.values:
        raise _invalid("fee_policy", f"must be one of {', '.join(FeePolicy.values)}.")
    if fee_policy == FeePolicy.RECEIVED and lot_size < 2:
        raise _invalid(
            "fee_policy",
            f"received needs a lot of at least 2 {base.code} units: a fee rounded "
            f"up to a whole unit would take a buyer's whole lot; use quote.",
        )


@transaction.atomic
def instrument_create(
    *,
    symbol: str,
    base: Asset,
    quote: Asset,
    tick_size: int,
    lot_size: int,
    min_quantity: int = 0,
    min_notional: int = 0,
    maker_fee_bps: int = 10,
    taker_fee_bps: int = 20,
    price_band_percent: int = 10,
    fee_policy: str | None = None,
    acting_user: User | None = None,
    meta: RequestMeta | None = None,
) -> Instrument:
    """`fee_policy` (fixed from now on): `quote` or `received`; by default `quote`
    for a base with no decimals (shares) or a lot of one unit, `received`
    otherwise (trading/fees.py)."""
    symbol = symbol.strip().upper()
    if not fee_policy:
        fee_policy = fee_policy_default(base=base, lot_size=lot_size)
    if not SYMBOL_RE.match(symbol):
        raise _invalid("symbol", "use BASE-QUOTE, e.g. BTC-USD.")
    if Instrument.objects.filter(symbol=symbol).exists():
        raise _invalid("symbol", "an instrument with this symbol exists.")
    instrument_validate(
        base=base,
        quote=quote,
        tick_size=tick_size,
        lot_size=lot_size,
        maker_fee_bps=maker_fee_bps,
        taker_fee_bps=taker_fee_bps,
        fee_policy=fee_policy,
    )
    instrument = Instrument.objects.create(
        symbol=symbol,
        base=base,
        quote=quote,
        tick_size=tick_size,
        lot_size=lot_size,
        min_quantity=min_quantity,
        min_notional=min_notional,
        maker_fee_bps=maker_fee_bps,
        taker_fee_bps=taker_fee_bps,
        price_band_percent=price_band_percent,
        fee_policy=fee_policy,
    )
    audit_event_record(
        code=AuditCode.INSTRUMENT_CREATED,
        acting_user=acting_user,
        target=instrument,
        meta=meta,
        extra={
            "symbol": symbol,
            "tick_size": tick_size,
            "lot_size": lot_size,
            "fee_policy": fee_policy,
        },
    )
    return instrument


@transaction.atomic
def instrument_update(
    *,
    instrument: Instrument,
    acting_user: User | None = None,
    meta: RequestMeta | None = None,
    **changes,
) -> Instrument:
    """Edit trading rules. Steps and assets are fixed once orders may exist."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise _invalid(sorted(unknown)[0], "cannot be changed on an instrument.")
    instrument = Instrument.objects.select_for_update().get(pk=instrument.pk)
    instrument_validate(
        base=instrument.base,
        quote=instrument.quote,
        tick_size=instrument.tick_size,
        lot_size=instrument.lot_size,
        maker_fee_bps=changes.get("maker_fee_bps", instrument.maker_fee_bps),
        taker_fee_bps=changes.get("taker_fee_bps", instrument.taker_fee_bps),
        fee_policy=instrument.fee_policy,
    )
    old = {field: getattr(instrument, field) for field in changes}
    for field, value in changes.items():
        setattr(instrument, field, value)
    instrument.updated_at = timezone.now()
    instrument.save(update_fields=[*changes, "updated_at"])
    audit_event_record(
        code=AuditCode.INSTRUMENT_UPDATED,
        acting_user=acting_user,
        target=instrument,
        meta=meta,
        extra={"old": old, "new": changes},
    )
    return instrument


_STATUS_CODES: dict[str, AuditCode] = {
    Instrument.Status.HALTED: AuditCode.INSTRUMENT_HALTED,
    Instrument.Status.TRADING: AuditCode.INSTRUMENT_RESUMED,
    Instrument.Status.CLOSED: AuditCode.INSTRUMENT_CLOSED,
}


@transaction.atomic
def instrument_set_status(
    *,
    instrument: Instrument,
    status: str,
    reason: str = "",
    acting_user: User | None = None,
) -> Instrument:
    """Halt (book kept, no matching, cancels allowed), resume, or close."""
    instrument = Instrument.objects.select_for_update().get(pk=instrument.pk)
    if instrument.status == status:
        return instrument
    if instrument.status == Instrument.Status.CLOSED:
        raise ApplicationError(
            Code.INSTRUMENT_NOT_TRADING, "status: a closed instrument stays closed."
        )
    old = instrument.status
    instrument.status = status
    instrument.status_reason = reason
    instrument.updated_at = timezone.now()
    instrument.save(update_fields=["status", "status_reason", "updated_at"])
    audit_event_record(
        code=_STATUS_CODES[status],
        acting_user=acting_user,
        target=instrument,
        extra={"old": old, "new": status, "reason": reason},
    )
    record(
        InstrumentStatusChanged(
            symbol=instrument.symbol,
            old=old,
            new=status,
            reason=reason,
            at=instrument.updated_at,
        )
    )
    if status == Instrument.Status.TRADING:
        from trading.services.matching import matching_schedule

        matching_schedule(instrument_id=instrument.pk)
    return instrument
