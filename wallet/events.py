"""Domain events the wallet records (config/events.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wallet.models import Account, Adjustment, Deposit, Withdrawal


@dataclass(frozen=True, slots=True)
class BalancesChanged:
    """A posting batch (one `ledger_post`, one `ledger_post_batch`, one write of
    new holds) moved these accounts: one event per batch, each account in it
    once, in pk order, locked and carrying its balance after the whole batch
    however many of the batch's entries it has. Its subscribers so do their
    work once per batch: one balance event per user and asset on the stream,
    one statement for the balance alerts.

    `without_alerts`: owners the posting read, under their user row's lock, to
    have no balance alert (order placement's holds): the alerts' subscriber
    sends no statement for them."""

    accounts: Sequence[Account]
    without_alerts: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class DepositCredited:
    """A deposit's money reached the user's available balance."""

    deposit_id: int
    user_id: int
    asset: str
    amount: int

    @classmethod
    def of(cls, deposit: Deposit, old: str) -> DepositCredited | None:
        if deposit.status != Deposit.Status.CREDITED:
            return None
        return cls(deposit.pk, deposit.user_id, deposit.asset.code, deposit.amount)


@dataclass(frozen=True, slots=True)
class WithdrawalDecided:
    """An operator (or the payout rail, through one) moved a withdrawal on:
    approved, rejected, sent, completed or failed. `reason` is the text the user
    may read (a rejection's reason, a failed payout's explanation)."""

    STATUSES = frozenset(
        {
            Withdrawal.Status.APPROVED,
            Withdrawal.Status.REJECTED,
            Withdrawal.Status.SENT,
            Withdrawal.Status.COMPLETED,
            Withdrawal.Status.FAILED,
        }
    )

    withdrawal_id: int
    user_id: int
    asset: str
    amount: int
    old_status: str
    status: str
    reason: str

    @classmethod
    def of(cls, withdrawal: Withdrawal, old: str) -> WithdrawalDecided | None:
        if withdrawal.status not in cls.STATUSES:
            return None
        return cls(
            withdrawal.pk,
            withdrawal.user_id,
            withdrawal.asset.code,
            withdrawal.amount,
            old,
            withdrawal.status,
            withdrawal.reason,
        )


@dataclass(frozen=True, slots=True)
class AdjustmentDecided:
    """A second operator approved (posted) or rejected a manual credit or debit;
    `amount` is signed (credit > 0), `reason` is why it was requested."""

    adjustment_id: int
    user_id: int
    asset: str
    amount: int
    status: str
    reason: str

    @classmethod
    def of(cls, adjustment: Adjustment, old: str) -> AdjustmentDecided:
        return cls(
            adjustment.pk,
            adjustment.user_id,
            adjustment.asset.code,
            adjustment.amount,
            adjustment.status,
            adjustment.reason,
        )


@dataclass(frozen=True, slots=True)
class TransferReceived:
    """Another user's transfer reached this user's available balance."""

    transfer_id: int
    user_id: int  # the recipient
    sender_email: str
    asset: str
    amount: int
    note: str


@dataclass(frozen=True, slots=True)
class BalanceBelowMinimum:
    """The available balance of an asset crossed below the user's alert minimum
    (recorded once per crossing: the alert re-arms only after it was back at or
    above the minimum)."""

    user_id: int
    asset: str
    minimum: int
    available: int
