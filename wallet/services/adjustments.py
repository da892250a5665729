"""Operator adjustments with maker-checker: one operator requests, another
approves (which posts external <-> user available) or rejects. The approver
follows the same rules as a withdrawal's (`money_approver_check`): not the
requester, not the user, and not staff who acted on the user recently."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.domain_errors import ApplicationError, Forbidden
from config.transitions import transition
from wallet.errors import WalletErrorCode as Code
from wallet.events import AdjustmentDecided
from wallet.ledger import Posting, account_ensure, ledger_post
from wallet.models import Account, Adjustment, AdjustmentStatusChange, Asset, Journal
from wallet.money import MAX_UNITS, format_units
from wallet.services.approvals import money_approver_check, note_clean
from wallet.services.common import require_perm

REQUEST_PERMISSION = "wallet.add_adjustment"
APPROVE_PERMISSION = "wallet.approve_adjustment"


@transaction.atomic
def adjustment_request(
    *,
    user: User,
    asset: Asset,
    amount: int,
    reason: str,
    operator: User,
    meta: RequestMeta | None = None,
) -> Adjustment:
    """Propose a manual credit (`amount > 0`) or debit (`amount < 0`)."""
    require_perm(operator, REQUEST_PERMISSION)
    if operator.pk == user.pk:
        raise Forbidden(Code.FOUR_EYES, "Four eyes: you cannot adjust your own wallet.")
    if not amount or abs(amount) > MAX_UNITS:
        raise ApplicationError(
            Code.INVALID_AMOUNT,
            "amount: must be non-zero and within 64 bits.",
            details={"amount": ["Non-zero, within 64 bits."]},
        )
    if not (reason or "").strip():
        raise ApplicationError(
            "invalid", "reason: required.", details={"reason": ["Required."]}
        )
    adjustment = Adjustment.objects.create(
        user=user,
        asset=asset,
        amount=amount,
        reason=reason.strip(),
        requested_by=operator,
    )
    AdjustmentStatusChange.objects.create(
        adjustment=adjustment, new_status=adjustment.status, acting_user=operator
    )
    audit_event_record(
        code=AuditCode.ADJUSTMENT_REQUESTED,
        user=user,
        acting_user=operator,
        target=adjustment,
        meta=meta,
        extra={
            "asset": asset.code,
            "amount": format_units(amount, asset.decimals),
            "reason": adjustment.reason,
        },
    )
    return adjustment


def _lock(adjustment: Adjustment) -> Adjustment:
    return (
        Adjustment.objects.select_for_update(of=("self",))
        .select_related("asset", "user", "requested_by")
        .get(pk=adjustment.pk)
    )


def _check_checker(adjustment: Adjustment, operator: User) -> None:
    require_perm(operator, APPROVE_PERMISSION)
    if operator.pk == adjustment.requested_by_id:
        raise Forbidden(
            Code.FOUR_EYES,
            "Four eyes: a second operator must decide an adjustment you requested.",
        )
    if operator.pk == adjustment.user_id:
        raise Forbidden(Code.FOUR_EYES, "Four eyes: you cannot adjust your own wallet.")


def _decide(adjustment: Adjustment, *, to: str, operator: User, note: str) -> str:
    """The checker's decision: the move, who decided and when, the history row
    and the `AdjustmentDecided` event."""
    return transition(
        obj=adjustment,
        to=to,
        history=AdjustmentStatusChange,
        fields={"decided_by": operator, "decided_at": timezone.now()},
        history_fields={"acting_user": operator, "note": note},
        event=AdjustmentDecided.of,
    )


@transaction.atomic
def adjustment_approve(
    *,
    adjustment: Adjustment,
    operator: User,
    note: str,
    meta: RequestMeta | None = None,
) -> Adjustment:
    """Post the adjustment. The checker types a note; the staff-action cool-off
    applies (403 `staff_action_cooloff`)."""
    note = note_clean(note)
    adjustment = _lock(adjustment)
    _check_checker(adjustment, operator)
    money_approver_check(
        approver=operator, user=adjustment.user, requested_by=adjustment.requested_by
    )
    old = _decide(
        adjustment, to=Adjustment.Status.APPROVED, operator=operator, note=note
    )
    asset = adjustment.asset
    adjustment.journal = ledger_post(
        kind=Journal.Kind.ADJUSTMENT,
        reference=str(adjustment.pk),
        postings=[
            Posting(
                account_ensure(asset=asset, kind=Account.Kind.EXTERNAL),
                -adjustment.amount,
            ),
            Posting(
                account_ensure(
                    owner=adjustment.user, asset=asset, kind=Account.Kind.AVAILABLE
                ),
                adjustment.amount,
            ),
        ],
        metadata={"adjustment": adjustment.pk, "reason": adjustment.reason},
    )
    adjustment.save(update_fields=["journal"])
    audit_event_record(
        code=AuditCode.ADJUSTMENT_APPROVED,
        user=adjustment.user,
        acting_user=operator,
        target=adjustment,
        meta=meta,
        extra={"old": old, "new": adjustment.status, "note": note},
    )
    return adjustment


@transaction.atomic
def adjustment_reject(
    *,
    adjustment: Adjustment,
    operator: User,
    reason: str,
    meta: RequestMeta | None = None,
) -> Adjustment:
    reason = note_clean(reason, field="reason")
    adjustment = _lock(adjustment)
    _check_checker(adjustment, operator)
    old = _decide(
        adjustment, to=Adjustment.Status.REJECTED, operator=operator, note=reason
    )
    audit_event_record(
        code=AuditCode.ADJUSTMENT_REJECTED,
        user=adjustment.user,
        acting_user=operator,
        target=adjustment,
        meta=meta,
        extra={"old": old, "new": adjustment.status, "reason": reason},
    )
    return adjustment
