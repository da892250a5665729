"""Domain events the wallet records (config/events.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wallet.models import Account


@dataclass(frozen=True, slots=True)
class BalancesChanged:
    """A posting moved these accounts; each is locked and carries its new
    balance."""

    accounts: Sequence[Account]
