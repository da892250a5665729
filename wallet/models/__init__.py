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

__all__ = [
    "Account",
    "Adjustment",
    "AdjustmentStatusChange",
    "Asset",
    "BalanceAlert",
    "Beneficiary",
    "BeneficiaryStatusChange",
    "Deposit",
    "DepositStatusChange",
    "Entry",
    "Hold",
    "Journal",
    "Transfer",
    "Withdrawal",
    "WithdrawalStatusChange",
]
