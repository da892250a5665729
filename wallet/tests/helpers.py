"""Test helpers for the wallet: assets and funding through the real services."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from wallet.ledger import Posting, account_ensure, ledger_post
from wallet.models import Account, Asset, Beneficiary, Journal
from wallet.selectors import balance_list
from wallet.verification import ledger_problems

_refs = itertools.count(1)


# The demo assets' payout rails (wallet/migrations/0004_asset_payout_rails).
DEFAULT_RAILS = {
    "USD": ["bank_iban"],
    "INR": ["bank_account_in", "upi"],
    "BTC": ["bitcoin"],
    "ETH": ["ethereum"],
}
# A valid destination per rail (checksums and all).
DESTINATIONS = {
    "bank_iban": "DE89370400440532013000",
    "bank_account_in": "50100012345678 HDFC0001234",
    "upi": "alice@okhdfc",
    "bitcoin": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    "ethereum": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
}


def make_asset(code: str = "USD", decimals: int = 2, **extra) -> Asset:
    extra.setdefault("payout_rails", list(DEFAULT_RAILS.get(code, [])))
    asset, _ = Asset.objects.get_or_create(
        code=code,
        defaults={"name": code, "decimals": decimals, "kind": "fiat", **extra},
    )
    return asset


def make_beneficiary(
    user,
    rail: str = "bank_iban",
    destination: str | None = None,
    label: str = "",
    confirmed_ago: timedelta | None = None,
) -> Beneficiary:
    """A confirmed beneficiary whose cool-off is already over, through the
    services (confirmed `confirmed_ago`, by default a cool-off and an hour, ago);
    the user's existing one for that destination if there is one."""
    from wallet.destinations import destination_normalize
    from wallet.services import beneficiary_seed_confirmed

    destination = destination or DESTINATIONS[rail]
    normalized = destination_normalize(rail=rail, destination=destination)
    existing = (
        Beneficiary.objects.filter(user=user, rail=rail, destination=normalized)
        .exclude(status=Beneficiary.Status.REMOVED)
        .first()
    )
    if existing is not None:
        return existing
    if confirmed_ago is None:
        confirmed_ago = timedelta(hours=settings.WALLET_BENEFICIARY_COOLOFF_HOURS + 1)
    return beneficiary_seed_confirmed(
        user=user,
        rail=rail,
        destination=destination,
        label=label or f"my {rail}",
        confirmed_at=timezone.now() - confirmed_ago,
    )


def fund(user, asset: Asset, units: int) -> Journal:
    """Credit `units` to the user's available balance from external (a deposit)."""
    return ledger_post(
        kind=Journal.Kind.DEPOSIT,
        reference=f"test-fund-{next(_refs)}",
        postings=[
            Posting(account_ensure(asset=asset, kind=Account.Kind.EXTERNAL), -units),
            Posting(
                account_ensure(owner=user, asset=asset, kind=Account.Kind.AVAILABLE),
                units,
            ),
        ],
    )


def balances(user) -> dict[str, tuple[int, int]]:
    """{asset code: (available, held)} for assets the user has anything in."""
    return {
        b.asset.code: (b.available, b.held)
        for b in balance_list(user=user)
        if b.available or b.held
    }


def assert_ledger_ok() -> None:
    problems = ledger_problems()
    assert problems == []
