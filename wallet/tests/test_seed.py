import io

import pytest
from django.core.management import call_command

from accounts.models import User
from wallet.models import Asset, Beneficiary, Deposit
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
    rails = dict(Asset.objects.values_list("code", "payout_rails"))
    assert rails == {
        "BTC": ["bitcoin"],
        "ETH": ["ethereum"],
        "INR": ["bank_account_in", "upi"],
        "RELIANCE": [],
        "TCS": [],
        "USD": ["bank_iban"],
    }


def test_seed_demo_gives_alice_and_bob_usable_beneficiaries_once():
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    rows = Beneficiary.objects.order_by("user__email", "id")
    assert [(b.user.email, b.rail, b.destination) for b in rows] == [
        ("alice@example.com", "bank_iban", "DE89370400440532013000"),
        ("alice@example.com", "bank_account_in", "50100012345678 HDFC0001234"),
        ("alice@example.com", "upi", "alice@okhdfc"),
        ("alice@example.com", "bitcoin", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
        ("bob@example.com", "bank_iban", "GB33BUKB20201555555555"),
        ("bob@example.com", "ethereum", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"),
    ]
    assert all(b.is_usable() for b in rows)
