"""Wallet state: the double-entry ledger and the flows that post to it."""

from wallet.models.beneficiaries import Beneficiary, BeneficiaryStatusChange
from wallet.models.flows import (
    Adjustment,
    AdjustmentStatusChange,
    BalanceAlert,
    Deposit,
    DepositStatusChange,
    Transfer,
    Withdrawal,
    WithdrawalStatusChange,
)
from wallet.models.ledger import Account, Asset, Entry, Hold, Journal
from wallet.models.payments import DepositReversal, ProviderEvent, ReconciliationItem

__all__ = [
    "Account",
    "Adjustment",
    "AdjustmentStatusChange",
    "Asset",
    "BalanceAlert",
    "Beneficiary",
    "BeneficiaryStatusChange",
    "Deposit",
    "DepositReversal",
    "DepositStatusChange",
    "Entry",
    "Hold",
    "Journal",
    "ProviderEvent",
    "ReconciliationItem",
    "Transfer",
    "Withdrawal",
    "WithdrawalStatusChange",
]
