"""Test helpers for the wallet: assets and funding through the real services."""

from __future__ import annotations

import itertools

from wallet.ledger import Posting, account_ensure, ledger_post
from wallet.models import Account, Asset, Journal
from wallet.selectors import balance_list
from wallet.verification import ledger_problems

_refs = itertools.count(1)


def make_asset(code: str = "USD", decimals: int = 2, **extra) -> Asset:
    asset, _ = Asset.objects.get_or_create(
        code=code,
        defaults={"name": code, "decimals": decimals, "kind": "fiat", **extra},
    )
    return asset


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
