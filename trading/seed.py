"""Demo instruments (idempotent, through `instrument_create`). No resting orders:
the market maker keeps the demo books quoted.

Steps obey the exactness rule: tick_size (quote units per whole base unit) x
lot_size (base units) must be a multiple of 10^base.decimals, so every price x
quantity is a whole number of quote units:

* BTC-USD: tick 1.00 USD (100 units), lot 0.01 BTC (10^6): 10^8, one tick x one
  lot = 0.01 USD.
* ETH-USD: tick 0.10 USD (10), lot 0.1 ETH (10^7): 10^8, also 0.01 USD.
* RELIANCE-INR, TCS-INR: shares have 0 decimals; tick 0.05 INR (5), lot 1 share:
  5 x 1 is a multiple of 10^0.

Fee policies by the default rule (trading/fees.py): the crypto pairs `received`,
the shares `quote` (a buyer pays its fee in INR and receives every share).
"""

from __future__ import annotations

from trading.models import Instrument
from wallet.models import Asset
from wallet.money import format_units, to_units

# symbol, base, quote, tick, lot, min notional (decimal strings of their assets)
DEMO_INSTRUMENTS = (
    ("BTC-USD", "BTC", "USD", "1.00", "0.01", "10.00"),
    ("ETH-USD", "ETH", "USD", "0.10", "0.1", "10.00"),
    ("RELIANCE-INR", "RELIANCE", "INR", "0.05", "1", "100.00"),
    ("TCS-INR", "TCS", "INR", "0.05", "1", "100.00"),
)


def seed(*, out) -> None:
    from trading.services import instrument_create

    assets = {asset.code: asset for asset in Asset.objects.all()}
    lines = []
    for symbol, base_code, quote_code, tick, lot, min_notional in DEMO_INSTRUMENTS:
        base, quote = assets.get(base_code), assets.get(quote_code)
        if base is None or quote is None:
            out(f"  {symbol}: skipped, assets {base_code}/{quote_code} missing")
            continue
        instrument = Instrument.objects.filter(symbol=symbol).first()
        state = "exists"
        if instrument is None:
            instrument = instrument_create(
                symbol=symbol,
                base=base,
                quote=quote,
                tick_size=to_units(tick, decimals=quote.decimals, field="tick"),
                lot_size=to_units(lot, decimals=base.decimals, field="lot"),
                min_notional=to_units(
                    min_notional, decimals=quote.decimals, field="min_notional"
                ),
            )
            state = "created"
        lines.append(
            f"  {symbol} ({state}): tick "
            f"{format_units(instrument.tick_size, quote.decimals)} {quote_code}, lot "
            f"{format_units(instrument.lot_size, base.decimals)} {base_code}, fees "
            f"{instrument.maker_fee_bps}/{instrument.taker_fee_bps} bps "
            f"({instrument.fee_policy} policy), "
            f"{instrument.status}"
        )
    out("Instruments:")
    for line in lines:
        out(line)
