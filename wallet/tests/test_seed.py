import io

import pytest
from django.core.management import call_command

from accounts.models import User
from wallet.models import Asset, Deposit
from wallet.tests.helpers import assert_ledger_ok, balances

pytestmark = pytest.mark.django_db


def test_seed_demo_funds_alice_and_bob_once_through_real_deposits():
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    assert list(Asset.objects.values_list("code", "decimals")) == [
        ("BTC", 8),
        ("ETH", 8),
        ("INR", 2),
        ("RELIANCE", 0),
        ("TCS", 0),
        ("USD", 2),
    ]
    alice = User.objects.get(email="alice@example.com")
    bob = User.objects.get(email="bob@example.com")
    assert balances(alice) == {
        "BTC": (200_000_000, 0),
        "INR": (50_000_000, 0),
        "USD": (10_000_000, 0),
    }
    assert balances(bob) == {
        "ETH": (4_000_000_000, 0),
        "RELIANCE": (500, 0),
        "USD": (10_000_000, 0),
    }
    credited = Deposit.objects.filter(status="credited", user__in=[alice, bob])
    assert credited.count() == 6
    assert_ledger_ok()
