import pytest

from accounts.testing import make_user
from kyc.testing import kyc_approve
from wallet.tests.helpers import make_asset


@pytest.fixture
def usd(db):
    return make_asset("USD", 2)


@pytest.fixture
def btc(db):
    return make_asset("BTC", 8)


def _user(request, **kwargs):
    """A test user; with approved KYC when the test is marked `kyc_verified`
    (deposits and transfers need it)."""
    user = make_user(**kwargs)
    if request.node.get_closest_marker("kyc_verified"):
        kyc_approve(user=user)
    return user


@pytest.fixture
def alice(db, request):
    return _user(request, email="alice@example.com", full_name="Alice Trader")


@pytest.fixture
def bob(db, request):
    return _user(request, email="bob@example.com", full_name="Bob Trader")
