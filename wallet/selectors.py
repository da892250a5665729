"""Reads shared by the API, the pages, the admin and other apps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from wallet.models import (
    Account,
    Asset,
    BalanceAlert,
    Beneficiary,
    Deposit,
    Entry,
    Transfer,
    Withdrawal,
)
from wallet.money import format_units


@dataclass(frozen=True)
class Balance:
    asset: Asset
    available: int
    held: int
    minimum: int | None

    @property
    def total(self) -> int:
        return self.available + self.held

    @property
    def below_minimum(self) -> bool:
        return self.minimum is not None and self.available < self.minimum

    def fmt(self, units: int | None) -> str | None:
        return None if units is None else format_units(units, self.asset.decimals)


def balance_list(*, user: User) -> list[Balance]:
    """Every active asset (and any inactive one the user still holds), with the
    user's available and held balances and alert minimum. Three queries."""
    amounts: dict[int, dict[str, int]] = {}
    for asset_id, kind, balance in Account.objects.filter(owner=user).values_list(
        "asset_id", "kind", "balance"
    ):
        amounts.setdefault(asset_id, {})[kind] = balance
    minimums = dict(
        BalanceAlert.objects.filter(user=user).values_list("asset_id", "minimum")
    )
    assets = Asset.objects.filter(
        Q(is_active=True)
        | Q(pk__in=[pk for pk, kinds in amounts.items() if any(kinds.values())])
    ).order_by("code")
    return [
        Balance(
            asset=asset,
            available=amounts.get(asset.pk, {}).get(Account.Kind.AVAILABLE, 0),
            held=amounts.get(asset.pk, {}).get(Account.Kind.HELD, 0),
            minimum=minimums.get(asset.pk),
        )
        for asset in assets
    ]


def available_balance(*, user: User, asset: Asset) -> int:
    account = Account.objects.filter(
        owner=user, asset=asset, kind=Account.Kind.AVAILABLE
    ).first()
    return account.balance if account else 0


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def statement_entries(
    *,
    user: User,
    asset: Asset | None = None,
    kind: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Entry]:
    """The user's entries (available and held accounts), newest first, each with
    its journal, account and asset. `kind` is the journal kind; dates are
    inclusive UTC days."""
    entries = Entry.objects.filter(account__owner=user).select_related(
        "journal", "account", "account__asset"
    )
    if asset is not None:
        entries = entries.filter(account__asset=asset)
    if kind:
        entries = entries.filter(journal__kind=kind)
    if date_from:
        entries = entries.filter(created_at__gte=_day_start(date_from))
    if date_to:
        entries = entries.filter(created_at__lt=_day_start(date_to + timedelta(days=1)))
    return entries.order_by("-id")


def entry_description(entry: Entry, *, user: User) -> str:
    """A human line for a statement row, from the journal's metadata."""
    journal = entry.journal
    meta = journal.metadata or {}
    if journal.kind == "transfer":
        if meta.get("from") == user.email:
            text = f"Transfer to {meta.get('to', '?')}"
        else:
            text = f"Transfer from {meta.get('from', '?')}"
        return f"{text}: {meta['note']}" if meta.get("note") else text
    if "withdrawal" in meta:
        return f"Withdrawal #{meta['withdrawal']}"
    if "deposit" in meta:
        return f"Deposit #{meta['deposit']}"
    if "adjustment" in meta:
        return f"Adjustment: {meta.get('reason', '')}"
    return journal.get_kind_display()


def deposit_list(*, user: User) -> QuerySet[Deposit]:
    return Deposit.objects.filter(user=user).select_related("asset")


def withdrawal_list(*, user: User) -> QuerySet[Withdrawal]:
    return Withdrawal.objects.filter(user=user).select_related("asset")


def transfer_list(*, user: User) -> QuerySet[Transfer]:
    return Transfer.objects.filter(Q(sender=user) | Q(recipient=user)).select_related(
        "asset", "sender", "recipient"
    )


def alert_list(*, user: User) -> QuerySet[BalanceAlert]:
    return BalanceAlert.objects.filter(user=user).select_related("asset")


def beneficiary_list(*, user: User) -> QuerySet[Beneficiary]:
    """The user's address book (removed ones left out), newest first."""
    return (
        Beneficiary.objects.filter(user=user)
        .exclude(status=Beneficiary.Status.REMOVED)
        .order_by("-created_at", "-id")
    )


def beneficiary_get(*, user: User, pk: int) -> Beneficiary | None:
    """One of the user's beneficiaries (removed ones included), or None: another
    user's id reads as absent."""
    return Beneficiary.objects.filter(user=user, pk=pk).first()


def beneficiary_usable_list(*, user: User) -> QuerySet[Beneficiary]:
    """Confirmed beneficiaries whose cool-off is over: what a withdrawal may use."""
    return beneficiary_list(user=user).filter(
        status=Beneficiary.Status.CONFIRMED, usable_from__lte=timezone.now()
    )
