"""Back office for money that needs approval: the withdrawal queue with its
one-at-a-time review page, and adjustments (maker-checker). No bulk actions: each
step is a POST from the object's own page, with a typed note, calling one service.
Imported by `wallet.admin` (which Django's autodiscovery loads)."""

from wallet.admin_approvals.adjustments import AdjustmentAdmin
from wallet.admin_approvals.payments import ProviderEventAdmin, ReconciliationItemAdmin
from wallet.admin_approvals.withdrawals import WithdrawalAdmin

__all__ = [
    "AdjustmentAdmin",
    "ProviderEventAdmin",
    "ReconciliationItemAdmin",
    "WithdrawalAdmin",
]
