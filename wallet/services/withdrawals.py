"""Withdrawals, from the request to the payout.

    requested -> [first_approved ->] approved -> sent -> completed | failed
    requested | first_approved | approved -> rejected;  requested | first_approved
    -> cancelled (by the user)

The request places a hold (`available -> held`). Approval keeps it: nothing has
left yet, so a rejection simply voids it. `sent` posts the hold to `external`
(journal `withdrawal:<id>`), the moment the money leaves. `failed` returns it with
a new journal `external -> available` (`withdrawal:<id>:returned`); `completed`
only confirms. Above WALLET_WITHDRAWAL_SECOND_APPROVAL_OVER two distinct
operators approve; nobody approves their own withdrawal or one of a user they
acted on recently (`wallet.services.approvals`). The payout steps after approval
(sent, completed, failed) are in `wallet.services.payouts`.

A withdrawal goes only to one of the user's confirmed beneficiaries whose cool-off
is over, on a rail its asset pays out on; with a second factor on, the user
confirms each request with a code."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import cast

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.domain_errors import Conflict, Forbidden, NotFound, Unprocessable
from config.transitions import transition
from kyc.selectors import kyc_is_verified
from wallet.destinations import PayoutRail, asset_payout_rails
from wallet.errors import WalletErrorCode as Code
from wallet.events import WithdrawalDecided
from wallet.ledger import (
    accounts_lock,
    hold_create,
    hold_void,
    user_accounts_ensure,
)
from wallet.models import (
    Asset,
    Beneficiary,
    Hold,
    Withdrawal,
    WithdrawalStatusChange,
)
from wallet.money import format_units
from wallet.selectors import needs_second_approval, restriction_error, wallet_restricted
from wallet.services.approvals import (
    money_approver_check,
    note_clean,
    withdrawal_cooloff_check,
)
from wallet.services.common import require_perm, second_factor_check

APPROVE_PERMISSION = "wallet.approve_withdrawal"


def _today_start() -> datetime:
    now = timezone.now()
    return datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)


def withdrawn_today(*, user: User, asset: Asset) -> int:
    """Units of `asset` the user has asked to withdraw today (UTC): the money that
    is gone or going (LIMIT_STATUSES), not rejected, cancelled or failed requests."""
    start = _today_start()
    total = Withdrawal.objects.filter(
        user=user,
        asset=asset,
        status__in=Withdrawal.LIMIT_STATUSES,
        created_at__gte=start,
        created_at__lt=start + timedelta(days=1),
    ).aggregate(total=Sum("amount"))["total"]
    return total or 0


def _beneficiary_check(
    *, beneficiary: Beneficiary, user: User, asset: Asset
) -> Beneficiary:
    """Lock the beneficiary (a concurrent removal waits for us, or we for it) and
    check it may receive this asset now."""
    if beneficiary.user_id != user.pk:
        raise NotFound(
            Code.NOT_FOUND,
            "beneficiary: no such beneficiary.",
            details={"beneficiary": ["Not found."]},
        )
    beneficiary = Beneficiary.objects.select_for_update().get(pk=beneficiary.pk)
    if beneficiary.status != Beneficiary.Status.CONFIRMED:
        raise Unprocessable(
            Code.BENEFICIARY_NOT_CONFIRMED,
            f"beneficiary: this beneficiary is {beneficiary.status}; withdrawals go "
            "only to confirmed beneficiaries.",
            details={"beneficiary": [f"Status is {beneficiary.status}."]},
        )
    if not beneficiary.is_usable():
        assert beneficiary.usable_from is not None  # set on confirmation (a CHECK)
        until = beneficiary.usable_from.isoformat()
        raise Unprocessable(
            Code.BENEFICIARY_COOLING_OFF,
            f"beneficiary: a newly confirmed beneficiary is usable from {until}.",
            details={"beneficiary": [f"Usable from {until}."], "usable_from": until},
        )
    rails = asset_payout_rails(asset)
    if beneficiary.rail not in rails:
        wanted = " or ".join(PayoutRail(rail).label for rail in rails)
        raise Unprocessable(
            Code.BENEFICIARY_RAIL_MISMATCH,
            f"beneficiary: {asset.code} pays out to a {wanted}, not to a "
            f"{beneficiary.get_rail_display()}.",
            details={"beneficiary": [f"{asset.code} needs a {wanted}."]},
        )
    return beneficiary


@transaction.atomic
def withdrawal_request(
    *,
    user: User,
    asset: Asset,
    amount: int,
    beneficiary: Beneficiary,
    otp: str = "",
    meta: RequestMeta | None = None,
) -> Withdrawal:
    """Reserve the amount (a hold) and queue the request for an operator.

    Refusals, in order: 403 `kyc_required`; 422 `asset_not_withdrawable` (the
    asset has no payout rail: securities); 404 for another user's beneficiary;
    422 `beneficiary_not_confirmed` / `beneficiary_cooling_off` /
    `beneficiary_rail_mismatch`; 403 `withdrawal_cooloff` (staff touched the
    user's credentials recently); 403 `account_restricted` (the user owes after
    a refund or a chargeback); 403 `otp_required` / `otp_invalid` (second
    factor on); 422 `daily_limit_exceeded` / `insufficient_funds`."""
    if not kyc_is_verified(user=user):
        raise Forbidden(
            Code.KYC_REQUIRED, "Withdrawals need a verified identity (KYC)."
        )
    if wallet_restricted(user=user):
        raise restriction_error()
    if not asset_payout_rails(asset):
        raise Unprocessable(
            Code.ASSET_NOT_WITHDRAWABLE,
            f"asset: {asset.code} cannot be withdrawn (it has no payout rail); "
            "sell it and withdraw the proceeds.",
            details={"asset": [f"{asset.code} is not withdrawable."]},
        )
    beneficiary = _beneficiary_check(beneficiary=beneficiary, user=user, asset=asset)
    withdrawal_cooloff_check(user=user)
    second_factor = second_factor_check(user=user, otp=otp, action="this withdrawal")
    available, held = user_accounts_ensure(user=user, asset=asset)
    # Serialize this user's withdrawals of this asset (limit check + hold), taking
    # both account locks in pk order like every posting does.
    accounts_lock([available.pk, held.pk])
    limit = asset.daily_withdrawal_limit
    if limit:
        used = withdrawn_today(user=user, asset=asset)
        if used + amount > limit:
            left = format_units(max(limit - used, 0), asset.decimals)
            raise Unprocessable(
                Code.DAILY_LIMIT_EXCEEDED,
                f"amount: the daily {asset.code} withdrawal limit leaves {left} "
                "for today.",
                details={"amount": [f"At most {left} more today."]},
            )
    withdrawal = Withdrawal.objects.create(
        user=user,
        asset=asset,
        amount=amount,
        beneficiary=beneficiary,
        rail=beneficiary.rail,
        destination=beneficiary.destination,
    )
    withdrawal.hold = hold_create(
        user=user,
        asset=asset,
        amount=amount,
        reference_kind="withdrawal",
        reference_id=str(withdrawal.pk),
        metadata={"withdrawal": withdrawal.pk},
    )
    withdrawal.save(update_fields=["hold"])
    WithdrawalStatusChange.objects.create(
        withdrawal=withdrawal, new_status=withdrawal.status, acting_user=user
    )
    audit_event_record(
        code=AuditCode.WITHDRAWAL_REQUESTED,
        user=user,
        acting_user=user,
        target=withdrawal,
        meta=meta,
        extra={
            "asset": asset.code,
            "amount": format_units(amount, asset.decimals),
            "beneficiary": beneficiary.pk,
            "rail": withdrawal.rail,
            "destination": withdrawal.destination,
            "second_factor": second_factor or "off",
        },
    )
    if second_factor is not None:
        audit_event_record(
            code=AuditCode.WITHDRAWAL_CONFIRMED,
            user=user,
            acting_user=user,
            target=withdrawal,
            meta=meta,
            extra={"method": second_factor},
        )
    return withdrawal


def lock_withdrawal(withdrawal: Withdrawal) -> Withdrawal:
    return (
        Withdrawal.objects.select_for_update(of=("self",))
        .select_related("asset", "hold", "user")
        .get(pk=withdrawal.pk)
    )


def withdrawal_transition(
    withdrawal: Withdrawal,
    *,
    to: str,
    actor: User | None,
    note: str,
    fields: dict[str, object],
) -> str:
    """Every move after the request: the table, the fields that go with it, the
    history row and, for a decision, the `WithdrawalDecided` event."""
    return transition(
        obj=withdrawal,
        to=to,
        history=WithdrawalStatusChange,
        fields=fields,
        history_fields={"acting_user": actor, "note": note},
        event=WithdrawalDecided.of,
    )


def refuse_own_withdrawal(withdrawal: Withdrawal, operator: User) -> None:
    if operator.pk == withdrawal.user_id:
        raise Forbidden(
            Code.FOUR_EYES, "Four eyes: you cannot decide your own withdrawal."
        )


def record_withdrawal_event(
    withdrawal: Withdrawal,
    *,
    code: AuditCode,
    operator: User | None,
    old: str,
    meta: RequestMeta | None,
    **extra,
) -> None:
    audit_event_record(
        code=code,
        user=withdrawal.user,
        acting_user=operator,
        target=withdrawal,
        meta=meta,
        extra={"old": old, "new": withdrawal.status, **extra},
    )


@transaction.atomic
def withdrawal_approve(
    *,
    withdrawal: Withdrawal,
    operator: User,
    note: str,
    meta: RequestMeta | None = None,
) -> Withdrawal:
    """Approve a pending withdrawal; the funds stay held until it is sent.

    Above the asset's second-approval threshold the first approval only records
    `first_approved_by/at` (status `first_approved`, audit 314) and a different
    operator gives the second (`approved`, audit 311). Refused while the user's
    withdrawals are on cool-off, for the user themselves, for the first approver
    giving the second, and for staff who acted on the user recently."""
    require_perm(operator, APPROVE_PERMISSION)
    note = note_clean(note)
    withdrawal = lock_withdrawal(withdrawal)
    money_approver_check(approver=operator, user=withdrawal.user)
    if withdrawal.first_approved_by_id == operator.pk:
        raise Forbidden(
            Code.FOUR_EYES,
            "Four eyes: you gave the first approval; a second operator must give "
            "the second.",
        )
    withdrawal_cooloff_check(user=withdrawal.user)
    first = withdrawal.status == Withdrawal.Status.REQUESTED and needs_second_approval(
        asset=withdrawal.asset, amount=withdrawal.amount
    )
    who = "first_approved" if first else "decided"
    old = withdrawal_transition(
        withdrawal,
        to=Withdrawal.Status.FIRST_APPROVED if first else Withdrawal.Status.APPROVED,
        actor=operator,
        note=note,
        fields={f"{who}_by": operator, f"{who}_at": timezone.now()},
    )
    record_withdrawal_event(
        withdrawal,
        code=(
            AuditCode.WITHDRAWAL_FIRST_APPROVAL
            if first
            else AuditCode.WITHDRAWAL_APPROVED
        ),
        operator=operator,
        old=old,
        meta=meta,
        note=note,
    )
    return withdrawal


def _release(
    *,
    withdrawal: Withdrawal,
    new_status: str,
    actor: User,
    reason: str,
    code: AuditCode,
    meta: RequestMeta | None,
) -> Withdrawal:
    fields: dict[str, object] = {"reason": reason[:255]}
    if new_status == Withdrawal.Status.REJECTED:
        fields |= {"decided_by": actor, "decided_at": timezone.now()}
    old = withdrawal_transition(
        withdrawal, to=new_status, actor=actor, note=reason, fields=fields
    )
    # a withdrawal's hold is created with it, in withdrawal_request's transaction
    hold_void(hold=cast(Hold, withdrawal.hold), metadata={"withdrawal": withdrawal.pk})
    audit_event_record(
        code=code,
        user=withdrawal.user,
        acting_user=actor,
        target=withdrawal,
        meta=meta,
        extra={"old": old, "new": new_status, "reason": reason},
    )
    return withdrawal


@transaction.atomic
def withdrawal_reject(
    *,
    withdrawal: Withdrawal,
    operator: User,
    reason: str,
    meta: RequestMeta | None = None,
) -> Withdrawal:
    """Refuse the request (pending, or approved but not yet sent) and return the
    held funds to the user's available. The reason is shown to the user."""
    require_perm(operator, APPROVE_PERMISSION)
    reason = note_clean(reason, field="reason")
    withdrawal = lock_withdrawal(withdrawal)
    refuse_own_withdrawal(withdrawal, operator)
    return _release(
        withdrawal=withdrawal,
        new_status=Withdrawal.Status.REJECTED,
        actor=operator,
        reason=reason,
        code=AuditCode.WITHDRAWAL_REJECTED,
        meta=meta,
    )


@transaction.atomic
def withdrawal_cancel(
    *, withdrawal: Withdrawal, user: User, meta: RequestMeta | None = None
) -> Withdrawal:
    """The user takes back a request that is not approved yet (a first approval
    alone does not stop them)."""
    withdrawal = lock_withdrawal(withdrawal)
    if withdrawal.user_id != user.pk:
        raise Forbidden(Code.PERMISSION_DENIED, "Not your withdrawal.")
    if withdrawal.status not in Withdrawal.PENDING_STATUSES:
        raise Conflict(
            Code.WITHDRAWAL_NOT_CANCELLABLE,
            f"status: a withdrawal that is {withdrawal.status} cannot be cancelled.",
            details={"status": [withdrawal.status]},
        )
    return _release(
        withdrawal=withdrawal,
        new_status=Withdrawal.Status.CANCELLED,
        actor=user,
        reason="Cancelled by the user.",
        code=AuditCode.WITHDRAWAL_CANCELLED,
        meta=meta,
    )
