"""An instrument's units: decimal strings <-> engine ticks and lots.

Parsing and formatting go through `wallet.money` (the one conversion module); this
adds the instrument's steps. An off-tick price or off-lot quantity is refused,
never rounded.
"""

from __future__ import annotations

from typing import overload

from config.domain_errors import ApplicationError
from trading.errors import TradingErrorCode as Code
from trading.models import Instrument
from wallet.money import format_units, to_units


def price_to_ticks(instrument: Instrument, text: str, *, field: str = "price") -> int:
    units = to_units(text, decimals=instrument.quote.decimals, field=field)
    if units % instrument.tick_size:
        step = format_units(instrument.tick_size, instrument.quote.decimals)
        raise ApplicationError(
            Code.INVALID_TICK,
            f"{field}: must be a multiple of the tick size {step}.",
            details={field: [f"Not a multiple of {step}."]},
        )
    return units // instrument.tick_size


def quantity_to_lots(
    instrument: Instrument, text: str, *, field: str = "quantity"
) -> int:
    units = to_units(text, decimals=instrument.base.decimals, field=field)
    if units % instrument.lot_size:
        step = format_units(instrument.lot_size, instrument.base.decimals)
        raise ApplicationError(
            Code.INVALID_LOT,
            f"{field}: must be a multiple of the lot size {step}.",
            details={field: [f"Not a multiple of {step}."]},
        )
    return units // instrument.lot_size


# Each formatter keeps a missing value missing: an int gives a string, None None.
@overload
def ticks_to_price(instrument: Instrument, ticks: int) -> str: ...
@overload
def ticks_to_price(instrument: Instrument, ticks: None) -> None: ...
@overload
def ticks_to_price(instrument: Instrument, ticks: int | None) -> str | None: ...
def ticks_to_price(instrument: Instrument, ticks: int | None) -> str | None:
    if ticks is None:
        return None
    return format_units(ticks * instrument.tick_size, instrument.quote.decimals)


@overload
def lots_to_quantity(instrument: Instrument, lots: int) -> str: ...
@overload
def lots_to_quantity(instrument: Instrument, lots: None) -> None: ...
@overload
def lots_to_quantity(instrument: Instrument, lots: int | None) -> str | None: ...
def lots_to_quantity(instrument: Instrument, lots: int | None) -> str | None:
    if lots is None:
        return None
    return format_units(lots * instrument.lot_size, instrument.base.decimals)


@overload
def quote_str(instrument: Instrument, units: int) -> str: ...
@overload
def quote_str(instrument: Instrument, units: None) -> None: ...
@overload
def quote_str(instrument: Instrument, units: int | None) -> str | None: ...
def quote_str(instrument: Instrument, units: int | None) -> str | None:
    return None if units is None else format_units(units, instrument.quote.decimals)


@overload
def base_str(instrument: Instrument, units: int) -> str: ...
@overload
def base_str(instrument: Instrument, units: None) -> None: ...
@overload
def base_str(instrument: Instrument, units: int | None) -> str | None: ...
def base_str(instrument: Instrument, units: int | None) -> str | None:
    return None if units is None else format_units(units, instrument.base.decimals)
