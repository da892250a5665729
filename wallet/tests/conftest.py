import pytest

from accounts.testing import make_user
from wallet.tests.helpers import make_asset


@pytest.fixture
def usd(db):
    return make_asset("USD", 2)


@pytest.fixture
def btc(db):
    return make_asset("BTC", 8)


@pytest.fixture
def alice(db):
    return make_user(email="alice@example.com", full_name="Alice Trader")


@pytest.fixture
def bob(db):
    return make_user(email="bob@example.com", full_name="Bob Trader")
