"""The volatility band (docs/sessions.md): pure integer arithmetic, no Django."""

from __future__ import annotations


def band_breached(
    *, reference_ticks: int | None, price_ticks: int, band_bps: int
) -> bool:
    """True when a trade at `price_ticks` lies strictly more than `band_bps` basis
    points away from `reference_ticks` (the last price). A band of 0, or no
    reference price yet, never breaches. Exact: no division, no float."""
    if band_bps <= 0 or reference_ticks is None or reference_ticks <= 0:
        return False
    return abs(price_ticks - reference_ticks) * 10_000 > reference_ticks * band_bps
