"""Withdrawals: request (hold) -> approve (post the hold to external) | reject or
cancel (void the hold). Four eyes: the approver is never the requester.

A withdrawal goes only to one of the user's confirmed beneficiaries whose cool-off
is over, on a rail its asset pays out on; with a second factor on, the user
confirms each request with a code."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.selectors import user_withdrawal_cooloff_until
from accounts.services import RequestMeta, audit_event_record
from config.errors import Conflict, Forbidden, NotFound, Unprocessable
from kyc.selectors import kyc_is_verified
from wallet.destinations import PayoutRail, asset_payout_rails
from wallet.errors import WalletErrorCode as Code
from wallet.ledger import (
    Posting,
    account_ensure,
    accounts_lock,
    hold_create,
    hold_post,
    hold_void,
    user_accounts_ensure,
)
from wallet.models import (
    Account,
    Asset,
    Beneficiary,
    Journal,
    Withdrawal,
    WithdrawalStatusChange,
)
from wallet.money import format_units
from wallet.services.common import (
    require_perm,
    second_factor_check,
    status_transition,
)

APPROVE_PERMISSION = "wallet.approve_withdrawal"


def _today_start() -> datetime:
    now = timezone.now()
    return datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)


def withdrawn_today(*, user: User, asset: Asset) -> int:
    """Units of `asset` the user has asked to withdraw today (UTC), not counting
    rejected or cancelled requests."""
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
    user's credentials recently); 403 `otp_required` / `otp_invalid` (second
    factor on); 422 `daily_limit_exceeded` / `insufficient_funds`."""
    if not kyc_is_verified(user=user):
        raise Forbidden(
            Code.KYC_REQUIRED, "Withdrawals need a verified identity (KYC)."
        )
    if not asset_payout_rails(asset):
        raise Unprocessable(
            Code.ASSET_NOT_WITHDRAWABLE,
            f"asset: {asset.code} cannot be withdrawn (it has no payout rail); "
            "sell it and withdraw the proceeds.",
            details={"asset": [f"{asset.code} is not withdrawable."]},
        )
    beneficiary = _beneficiary_check(beneficiary=beneficiary, user=user, asset=asset)
    cooloff_until = user_withdrawal_cooloff_until(user=user)
    if cooloff_until is not None:
        until = cooloff_until.isoformat()
        raise Forbidden(
            Code.WITHDRAWAL_COOLOFF,
            "Withdrawals are paused until "
            f"{until}: your sign-in details were changed by our staff recently.",
            details={"cooloff_until": until},
        )
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


def _lock(withdrawal: Withdrawal) -> Withdrawal:
    return (
        Withdrawal.objects.select_for_update(of=("self",))
        .select_related("asset", "hold", "user")
        .get(pk=withdrawal.pk)
    )


@transaction.atomic
def withdrawal_approve(
    *, withdrawal: Withdrawal, operator: User, meta: RequestMeta | None = None
) -> Withdrawal:
    """Post the hold to `external`: the funds leave the platform's books."""
    require_perm(operator, APPROVE_PERMISSION)
    withdrawal = _lock(withdrawal)
    if operator.pk == withdrawal.user_id:
        raise Forbidden(
            Code.FOUR_EYES, "Four eyes: you cannot approve your own withdrawal."
        )
    old = status_transition(
        obj=withdrawal,
        new_status=Withdrawal.Status.APPROVED,
        history=WithdrawalStatusChange,
        acting_user=operator,
    )
    hold_post(
        hold=withdrawal.hold,
        amount=withdrawal.amount,
        postings=[
            Posting(
                account_ensure(asset=withdrawal.asset, kind=Account.Kind.EXTERNAL),
                withdrawal.amount,
            )
        ],
        kind=Journal.Kind.WITHDRAWAL,
        reference=str(withdrawal.pk),
        metadata={"withdrawal": withdrawal.pk, "destination": withdrawal.destination},
    )
    withdrawal.decided_by = operator
    withdrawal.decided_at = timezone.now()
    withdrawal.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    audit_event_record(
        code=AuditCode.WITHDRAWAL_APPROVED,
        user=withdrawal.user,
        acting_user=operator,
        target=withdrawal,
        meta=meta,
        extra={"old": old, "new": withdrawal.status},
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
    old = status_transition(
        obj=withdrawal,
        new_status=new_status,
        history=WithdrawalStatusChange,
        acting_user=actor,
        note=reason,
    )
    hold_void(hold=withdrawal.hold, metadata={"withdrawal": withdrawal.pk})
    withdrawal.reason = reason[:255]
    fields = ["status", "reason", "updated_at"]
    if new_status == Withdrawal.Status.REJECTED:
        withdrawal.decided_by = actor
        withdrawal.decided_at = timezone.now()
        fields += ["decided_by", "decided_at"]
    withdrawal.save(update_fields=fields)
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
    """Refuse the request and return the held funds to the user's available."""
    require_perm(operator, APPROVE_PERMISSION)
    withdrawal = _lock(withdrawal)
    if operator.pk == withdrawal.user_id:
        raise Forbidden(
            Code.FOUR_EYES, "Four eyes: you cannot decide your own withdrawal."
        )
    return _release(
        withdrawal=withdrawal,
        new_status=Withdrawal.Status.REJECTED,
        actor=operator,
        reason=reason or "Rejected by an operator.",
        code=AuditCode.WITHDRAWAL_REJECTED,
        meta=meta,
    )


@transaction.atomic
def withdrawal_cancel(
    *, withdrawal: Withdrawal, user: User, meta: RequestMeta | None = None
) -> Withdrawal:
    """The user takes back a request that no operator has decided yet."""
    withdrawal = _lock(withdrawal)
    if withdrawal.user_id != user.pk:
        raise Forbidden(Code.PERMISSION_DENIED, "Not your withdrawal.")
    if withdrawal.status != Withdrawal.Status.REQUESTED:
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
