"""Daily reconciliation: each real provider's own report of the money it moved
(its balance transactions or payments and refunds, through its SDK) against
the ledger's deposits and reversals. Every difference becomes a
`ReconciliationItem` for an operator; re-running a day adds only what is new.

What counts as a difference:
- a payment the provider took that no credited deposit matches:
  `missing_credit` when a deposit of ours is pending or failed for it (found by
  payment id, or by the deposit id the provider kept in metadata or notes),
  `unknown_payment` when none is;
- a credited deposit whose amount or currency differs: `amount_difference`;
- a refund or dispute at the provider with no reversal here: `missing_reversal`;
- a deposit credited here that day through the provider and absent from its
  report: `not_at_provider`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.domain_errors import ApplicationError, Conflict
from wallet.errors import WalletErrorCode as Code
from wallet.models import Adjustment, Deposit, DepositReversal, ReconciliationItem
from wallet.money import format_units, to_units
from wallet.providers import EventKind, SettlementLine, provider_get, providers_enabled
from wallet.services.approvals import note_clean
from wallet.services.common import require_perm

Kind = ReconciliationItem.Kind
RESOLVE_PERMISSION = "wallet.add_adjustment"
# providers with a report to reconcile (the sandbox has none)
REPORTING = ("stripe", "razorpay")


def reconcile_day(*, provider: str, day: date) -> list[ReconciliationItem]:
    """Reconcile one provider's UTC day; the new items found."""
    gateway = provider_get(provider)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    lines = gateway.settlement_lines(
        since=int(start.timestamp()), until=int(end.timestamp())
    )
    found: list[ReconciliationItem] = []
    seen_payments: set[str] = set()
    for line in lines:
        if line.kind is EventKind.PAYMENT_SUCCEEDED:
            seen_payments.add(line.payment_id)
            item = _payment_difference(provider, day, line)
        else:
            item = _reversal_difference(provider, day, line)
        if item is not None:
            found.append(item)
    credited = Deposit.objects.filter(
        provider=provider,
        status=Deposit.Status.CREDITED,
        updated_at__gte=start,
        updated_at__lt=end,
    ).select_related("asset")
    for deposit in credited:
        if deposit.payment_id not in seen_payments:
            found.append(
                ReconciliationItem(
                    provider=provider,
                    day=day,
                    kind=Kind.NOT_AT_PROVIDER,
                    key=f"deposit:{deposit.pk}",
                    payment_id=deposit.payment_id,
                    deposit=deposit,
                    currency=deposit.asset.code,
                    ledger_amount=format_units(
                        deposit.credited_amount or 0, deposit.asset.decimals
                    ),
                )
            )
    with transaction.atomic():
        created = ReconciliationItem.objects.bulk_create(found, ignore_conflicts=True)
    # ignore_conflicts leaves pks unset on PostgreSQL: read back today's rows
    del created
    return list(
        ReconciliationItem.objects.filter(
            provider=provider, day=day, key__in=[i.key for i in found]
        ).order_by("pk")
    )


def reconcile_yesterday() -> dict[str, int]:
    """The beat's daily run: every enabled provider with a report, yesterday
    (UTC). Items already found are not found again."""
    day = timezone.now().astimezone(UTC).date() - timedelta(days=1)
    return {
        name: len(reconcile_day(provider=name, day=day))
        for name in providers_enabled()
        if name in REPORTING
    }


def _item(provider, day, line: SettlementLine, kind, **fields) -> ReconciliationItem:
    return ReconciliationItem(
        provider=provider,
        day=day,
        kind=kind,
        key=line.line_id,
        payment_id=line.payment_id,
        currency=line.currency,
        provider_amount=line.amount,
        **fields,
    )


def _payment_difference(provider, day, line: SettlementLine):
    deposit = (
        Deposit.objects.select_related("asset")
        .filter(provider=provider, payment_id=line.payment_id)
        .first()
        if line.payment_id
        else None
    )
    if deposit is None and line.deposit_id.isdigit():
        deposit = (
            Deposit.objects.select_related("asset")
            .filter(provider=provider, pk=int(line.deposit_id))
            .first()
        )
    if deposit is None:
        return _item(provider, day, line, Kind.UNKNOWN_PAYMENT)
    if deposit.status != Deposit.Status.CREDITED:
        return _item(provider, day, line, Kind.MISSING_CREDIT, deposit=deposit)
    asset = deposit.asset
    ours = format_units(deposit.credited_amount or 0, asset.decimals)
    same = line.currency == asset.code and _units(line.amount, asset.decimals) == (
        deposit.credited_amount
    )
    if not same:
        return _item(
            provider,
            day,
            line,
            Kind.AMOUNT_DIFFERENCE,
            deposit=deposit,
            ledger_amount=f"{ours} {asset.code}",
        )
    return None


def _reversal_difference(provider, day, line: SettlementLine):
    if DepositReversal.objects.filter(
        deposit__provider=provider, provider_id=line.reversal_id
    ).exists():
        return None
    deposit = Deposit.objects.filter(
        provider=provider, payment_id=line.payment_id
    ).first()
    return _item(provider, day, line, Kind.MISSING_REVERSAL, deposit=deposit)


def _units(amount: str, decimals: int) -> int | None:
    try:
        return to_units(amount, decimals=decimals, field="amount")
    except ApplicationError:
        return None  # more decimals than the asset has: a difference


@transaction.atomic
def reconciliation_resolve(
    *,
    item: ReconciliationItem,
    operator: User,
    note: str,
    adjustment: Adjustment | None = None,
    meta: RequestMeta | None = None,
) -> ReconciliationItem:
    """An operator closes a difference, with a typed explanation and, when money
    had to move, the adjustment (requested and approved through the
    two-person adjustment flow) that moved it."""
    require_perm(operator, RESOLVE_PERMISSION)
    item = ReconciliationItem.objects.select_for_update().get(pk=item.pk)
    if item.status != ReconciliationItem.Status.OPEN:
        raise Conflict(
            "invalid_transition", "status: this difference is already resolved."
        )
    note = note_clean(note)
    deposit = item.deposit
    if adjustment is not None and deposit is not None:
        if adjustment.user_id != deposit.user_id:
            problem = "The adjustment is for another user than the deposit's."
            raise ApplicationError(
                Code.ADJUSTMENT_MISMATCH,
                f"adjustment: {problem}",
                details={"adjustment": [problem]},
            )
    item.status = ReconciliationItem.Status.RESOLVED
    item.resolution = note
    item.adjustment = adjustment
    item.resolved_by = operator
    item.resolved_at = timezone.now()
    item.save(
        update_fields=[
            "status",
            "resolution",
            "adjustment",
            "resolved_by",
            "resolved_at",
        ]
    )
    audit_event_record(
        code=AuditCode.RECONCILIATION_RESOLVED,
        user=deposit.user if deposit is not None else None,
        acting_user=operator,
        target=item,
        meta=meta,
        extra={
            "kind": item.kind,
            "key": item.key,
            "note": note,
            **({"adjustment": adjustment.pk} if adjustment else {}),
        },
    )
    return item
