"""Reads shared by the API, the pages, the admin and other apps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.selectors import user_withdrawal_cooloff_until
from config.domain_errors import ApplicationError, Forbidden
from wallet import queries
from wallet.destinations import destination_display
from wallet.errors import WalletErrorCode as Code
from wallet.models import (
    Account,
    Adjustment,
    Asset,
    BalanceAlert,
    Beneficiary,
    Deposit,
    Entry,
    Hold,
    Transfer,
    Withdrawal,
    WithdrawalStatusChange,
)
from wallet.money import format_units, to_units


@dataclass(frozen=True)
class Balance:
    asset: Asset
    available: int
    held: int
    minimum: int | None
    # what the user owes in this asset after a refund or chargeback of money
    # already spent (their receivable, as a positive amount): restricts them
    owed: int = 0

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
            owed=-amounts.get(asset.pk, {}).get(Account.Kind.RECEIVABLE, 0),
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
        if meta.get("returned"):
            return f"Withdrawal #{meta['withdrawal']} returned (payout failed)"
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


# --- Back office: approvals and the withdrawal review page -------------------------


def second_approval_threshold(*, asset: Asset) -> int | None:
    """Units above which a withdrawal of `asset` needs two approvers
    (WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER, whole units as a decimal string); None
    when the asset has no threshold."""
    text = settings.WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER.get(asset.code)
    if text is None or str(text).strip() == "":
        return None
    try:
        return to_units(
            str(text), decimals=asset.decimals, field="threshold", allow_zero=True
        )
    except ApplicationError as exc:
        raise ImproperlyConfigured(
            f"WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER[{asset.code}]={text!r}: "
            f"{exc.message}"
        ) from exc


def needs_second_approval(*, asset: Asset, amount: int) -> bool:
    threshold = second_approval_threshold(asset=asset)
    return threshold is not None and amount > threshold


def withdrawal_queue() -> QuerySet[Withdrawal]:
    """Withdrawals waiting for an approval (requested or first-approved), oldest
    first."""
    return (
        Withdrawal.objects.filter(status__in=Withdrawal.PENDING_STATUSES)
        .select_related("user", "asset", "first_approved_by")
        .order_by("created_at", "id")
    )


def adjustment_queue() -> QuerySet[Adjustment]:
    """Adjustments waiting for their checker, oldest first."""
    return (
        Adjustment.objects.filter(status=Adjustment.Status.PENDING)
        .select_related("user", "asset", "requested_by")
        .order_by("created_at", "id")
    )


# A withdrawal larger than this many times the user's largest completed one of the
# same asset is flagged; so is one that follows a deposit by less than this long.
RISK_AMOUNT_MULTIPLE = 3
RISK_DEPOSIT_WINDOW = timedelta(hours=24)
# A beneficiary confirmed less than this long before the request is "new".
RISK_NEW_BENEFICIARY = timedelta(days=7)


@dataclass(frozen=True)
class RiskFlag:
    code: str
    text: str


@dataclass(frozen=True)
class WithdrawalReview:
    """Everything an operator weighs before approving one withdrawal."""

    withdrawal: Withdrawal
    balances: list[Balance]
    holds: list[Hold]
    deposits: list[Deposit]
    other_withdrawals: list[Withdrawal]
    history: list[WithdrawalStatusChange]
    cooloff_until: datetime | None
    threshold: int | None
    largest_completed: int | None
    flags: list[RiskFlag]

    @property
    def needs_two_approvals(self) -> bool:
        return self.threshold is not None and self.withdrawal.amount > self.threshold

    def fmt(self, units: int | None) -> str | None:
        decimals = self.withdrawal.asset.decimals
        return None if units is None else format_units(units, decimals)

    @property
    def destination(self) -> str:
        """The destination as people read it (an IBAN in groups of four)."""
        withdrawal = self.withdrawal
        if not withdrawal.rail:
            return withdrawal.destination
        return destination_display(
            rail=withdrawal.rail, destination=withdrawal.destination
        )

    @property
    def beneficiary_age(self) -> timedelta | None:
        """How long the beneficiary had been confirmed when the user asked."""
        beneficiary = self.withdrawal.beneficiary
        if beneficiary is None or beneficiary.confirmed_at is None:
            return None
        return self.withdrawal.created_at - beneficiary.confirmed_at


def _risk_flags(
    withdrawal: Withdrawal,
    *,
    cooloff_until: datetime | None,
    largest_completed: int | None,
    paid_out_before: bool,
    recent_deposits: list[Deposit],
) -> list[RiskFlag]:
    asset = withdrawal.asset
    flags = []
    beneficiary = withdrawal.beneficiary
    if beneficiary is not None and beneficiary.confirmed_at is not None:
        age = withdrawal.created_at - beneficiary.confirmed_at
        if age < RISK_NEW_BENEFICIARY:
            flags.append(
                RiskFlag(
                    "new_beneficiary",
                    f"New beneficiary: confirmed {int(age.total_seconds() // 3600)} h "
                    "before this request.",
                )
            )
    if cooloff_until is not None:
        flags.append(
            RiskFlag(
                "credential_change",
                "Recent credential change: a member of staff touched this user's "
                "credentials, email, phone or second factor; withdrawals are on "
                f"hold until {cooloff_until:%Y-%m-%d %H:%M} UTC.",
            )
        )
    if not paid_out_before:
        flags.append(
            RiskFlag("first_withdrawal", "First withdrawal ever for this user.")
        )
    elif largest_completed is None:
        flags.append(
            RiskFlag(
                "first_of_asset",
                f"No completed {asset.code} withdrawal before this one.",
            )
        )
    elif withdrawal.amount > RISK_AMOUNT_MULTIPLE * largest_completed:
        largest = format_units(largest_completed, asset.decimals)
        flags.append(
            RiskFlag(
                "large_vs_history",
                f"More than {RISK_AMOUNT_MULTIPLE}x the user's largest completed "
                f"{asset.code} withdrawal ({largest}).",
            )
        )
    for deposit in recent_deposits:
        ago = withdrawal.created_at - deposit.updated_at
        hours = int(ago.total_seconds() // 3600)
        amount = format_units(deposit.amount, deposit.asset.decimals)
        flags.append(
            RiskFlag(
                "deposit_then_withdrawal",
                f"Deposit #{deposit.pk} of {amount} {deposit.asset.code} credited "
                f"{hours} h before this request.",
            )
        )
    return flags


def withdrawal_review(*, withdrawal: Withdrawal) -> WithdrawalReview:
    """The review page's reads for one withdrawal (about ten queries, whatever the
    user's history): balances and pending holds, recent deposits and withdrawals,
    the status history, the cool-off, the threshold and the risk flags."""
    user, asset = withdrawal.user, withdrawal.asset
    history = list(
        WithdrawalStatusChange.objects.filter(withdrawal=withdrawal).select_related(
            "acting_user"
        )
    )
    holds = list(
        Hold.objects.filter(user=user, status=Hold.Status.PENDING)
        .select_related("asset")
        .order_by("-id")[:20]
    )
    deposits = list(
        Deposit.objects.filter(user=user).select_related("asset").order_by("-id")[:10]
    )
    others = list(
        Withdrawal.objects.filter(user=user)
        .exclude(pk=withdrawal.pk)
        .select_related("asset")
        .order_by("-id")[:10]
    )
    paid_out = Withdrawal.objects.filter(
        user=user, status__in=(Withdrawal.Status.SENT, Withdrawal.Status.COMPLETED)
    ).exclude(pk=withdrawal.pk)
    largest = paid_out.filter(
        asset=asset, status=Withdrawal.Status.COMPLETED
    ).aggregate(largest=Max("amount"))["largest"]
    recent_deposits = list(
        Deposit.objects.filter(
            user=user,
            status=Deposit.Status.CREDITED,
            updated_at__gte=withdrawal.created_at - RISK_DEPOSIT_WINDOW,
            updated_at__lte=withdrawal.created_at,
        )
        .select_related("asset")
        .order_by("-updated_at")
    )
    cooloff_until = user_withdrawal_cooloff_until(user=user)
    return WithdrawalReview(
        withdrawal=withdrawal,
        balances=[b for b in balance_list(user=user) if b.available or b.held],
        holds=holds,
        deposits=deposits,
        other_withdrawals=others,
        history=history,
        cooloff_until=cooloff_until,
        threshold=second_approval_threshold(asset=asset),
        largest_completed=largest,
        flags=_risk_flags(
            withdrawal,
            cooloff_until=cooloff_until,
            largest_completed=largest,
            paid_out_before=paid_out.exists(),
            recent_deposits=recent_deposits,
        ),
    )


def wallet_restricted(*, user: User) -> bool:
    """True while the user owes the platform (wallet.queries.owes_sql): no
    trading and no withdrawals until a deposit repays it."""
    return queries.user_owes(user_id=user.pk)


def restriction_error() -> Forbidden:
    return Forbidden(
        Code.ACCOUNT_RESTRICTED,
        "Your account owes money after a refund or a chargeback of a deposit "
        "you had already used: deposit to repay it before trading or withdrawing.",
    )
