"""Builders for trading tests: real assets, instruments, verified funded users."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from django.core.cache import cache

from trading.models import Instrument
from trading.services import instrument_create, matching_run
from wallet.models import Asset
from wallet.tests.helpers import assert_ledger_ok, balances, fund  # noqa: F401


def make_btc_usd(**overrides) -> Instrument:
    """BTC-USD: price step 1.00 USD, quantity step 0.01 BTC (one tick x one lot is
    exactly 0.01 USD)."""
    usd, _ = Asset.objects.get_or_create(
        code="USD",
        defaults={
            "name": "US Dollar",
            "decimals": 2,
            "kind": "fiat",
            "payout_rails": ["bank_iban"],
        },
    )
    btc, _ = Asset.objects.get_or_create(
        code="BTC",
        defaults={
            "name": "Bitcoin",
            "decimals": 8,
            "kind": "crypto",
            "payout_rails": ["bitcoin"],
        },
    )
    options = {
        "tick_size": 100,
        "lot_size": 1_000_000,
        "maker_fee_bps": 10,
        "taker_fee_bps": 20,
        "price_band_percent": 0,
        **overrides,
    }
    return instrument_create(symbol="BTC-USD", base=btc, quote=usd, **options)


def match(instrument: Instrument) -> None:
    """Run the matching job until nothing is pending."""
    while matching_run(instrument_id=instrument.pk).more:
        pass


@contextmanager
def lost_messages() -> Iterator[mock.MagicMock]:
    """Matching messages sent inside go nowhere (a broker that lost them). On the
    way out their "run queued" marks are gone, as they would be once
    TRADING_QUEUED_MARK_SECONDS passed, so later messages are sent again."""
    from trading.services.matching import _queued_key

    with mock.patch("trading.tasks.match_instrument.delay") as delay:
        yield delay
    cache.delete_many(
        [_queued_key(pk) for pk in Instrument.objects.values_list("pk", flat=True)]
    )


def book_state(snapshot: dict) -> dict:
    """A book's snapshot without its clock: the matcher's book has had its runs'
    `ExpireDue(now)`, a replay or a rebuild only what it was sent."""
    return {key: value for key, value in snapshot.items() if key != "clock"}
