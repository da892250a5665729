"""Every write of the wallet. The ledger primitives (posting, holds) live in
`wallet.ledger` and are re-exported here so callers have one import."""

from wallet.ledger import (
    HoldLeg,
    JournalSpec,
    Posting,
    account_ensure,
    hold_adjust,
    hold_create,
    hold_post,
    hold_void,
    ledger_post,
    ledger_post_batch,
    user_accounts_ensure,
)
from wallet.services.adjustments import (
    adjustment_approve,
    adjustment_reject,
    adjustment_request,
)
from wallet.services.alerts import balance_alert_delete, balance_alert_set
from wallet.services.assets import asset_create, asset_update
from wallet.services.beneficiaries import (
    beneficiary_add,
    beneficiary_confirm,
    beneficiary_link_read,
    beneficiary_link_resend,
    beneficiary_link_token,
    beneficiary_remove,
    beneficiary_seed_confirmed,
)
from wallet.services.common import asset_get
from wallet.services.deposits import (
    deposit_create,
    deposit_webhook_process,
    sandbox_checkout_complete,
)
from wallet.services.payouts import (
    payout_webhook_process,
    withdrawal_complete,
    withdrawal_fail,
    withdrawal_mark_sent,
)
from wallet.services.reconciliation import (
    reconcile_day,
    reconcile_yesterday,
    reconciliation_resolve,
)
from wallet.services.transfers import transfer_create
from wallet.services.withdrawals import (
    withdrawal_approve,
    withdrawal_cancel,
    withdrawal_reject,
    withdrawal_request,
)

__all__ = [
    "HoldLeg",
    "JournalSpec",
    "Posting",
    "account_ensure",
    "adjustment_approve",
    "adjustment_reject",
    "adjustment_request",
    "asset_create",
    "asset_get",
    "asset_update",
    "balance_alert_delete",
    "balance_alert_set",
    "beneficiary_add",
    "beneficiary_confirm",
    "beneficiary_link_read",
    "beneficiary_link_resend",
    "beneficiary_link_token",
    "beneficiary_remove",
    "beneficiary_seed_confirmed",
    "deposit_create",
    "deposit_webhook_process",
    "hold_adjust",
    "hold_create",
    "hold_post",
    "hold_void",
    "ledger_post",
    "ledger_post_batch",
    "sandbox_checkout_complete",
    "transfer_create",
    "user_accounts_ensure",
    "withdrawal_approve",
    "withdrawal_cancel",
    "withdrawal_complete",
    "withdrawal_fail",
    "withdrawal_mark_sent",
    "payout_webhook_process",
    "reconcile_day",
    "reconcile_yesterday",
    "reconciliation_resolve",
    "withdrawal_reject",
    "withdrawal_request",
]
