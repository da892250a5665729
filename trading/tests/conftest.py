"""Fixtures shared by the trading service, API, differential and fault tests."""

from __future__ import annotations

import pytest

from kyc.testing import make_verified_user
from trading.tests.helpers import fund, make_btc_usd

USD = 100  # units (cents) per dollar
BTC = 10**8  # units (satoshi) per bitcoin


@pytest.fixture
def btc_usd():
    """BTC-USD with fees 10/20 bps and no price band: one tick x one lot = 1 cent."""
    return make_btc_usd()


@pytest.fixture
def make_trader(btc_usd):
    """Build a KYC-verified user funded with `usd` cents and `btc` satoshi."""

    def build(email: str, *, usd: int = 0, btc: int = 0):
        user = make_verified_user(email=email)
        if usd:
            fund(user, btc_usd.quote, usd)
        if btc:
            fund(user, btc_usd.base, btc)
        return user

    return build


@pytest.fixture
def market():
    """BTC-USD, a buyer with 200,000.00 USD and a seller with 2 BTC:
    (instrument, buyer, seller)."""
    instrument = make_btc_usd()
    seller = make_verified_user(email="seller@example.com")
    buyer = make_verified_user(email="buyer@example.com")
    fund(seller, instrument.base, 2 * BTC)
    fund(buyer, instrument.quote, 200_000 * USD)
    return instrument, buyer, seller
