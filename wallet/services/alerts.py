"""Balance alerts: flag an asset whose available balance is below a minimum, and
tell the user once each time it crosses below.

The alert is `armed` while the available balance is at or above its minimum.
`balance_alerts_check`, an in-transaction subscriber of the ledger's
`BalancesChanged` (so under the posting's account locks), records
`BalanceBelowMinimum` and disarms an armed alert whose balance the posting took
below the minimum, and re-arms a disarmed one the posting brought back at or
above it: one statement per posting batch, judged on the balances the batch
left (a batch that dips below and comes back is no crossing). Setting an alert
arms it only if the balance is at or above the new minimum then (an alert set
below is not news to the user)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from config.bulk import rows_lock
from config.events import record
from wallet import queries
from wallet.events import BalanceBelowMinimum, BalancesChanged
from wallet.models import Account, Asset, BalanceAlert
from wallet.money import format_units


@transaction.atomic
def balance_alert_set(
    *, user: User, asset: Asset, minimum: int, meta: RequestMeta | None = None
) -> BalanceAlert:
    # the user's row lock first, as order placement takes it: a placement that
    # read "no alert" under it (wallet.queries.has_alerts_sql) has committed
    # before this alert exists, and one after it sees the alert
    rows_lock(User, [user.pk])
    # the available account's lock orders this with the postings that judge
    # the alert, so `armed` matches the balance it was set against
    account = (
        Account.objects.select_for_update()
        .filter(owner=user, asset=asset, kind=Account.Kind.AVAILABLE)
        .first()
    )
    armed = (account.balance if account else 0) >= minimum
    alert, created = BalanceAlert.objects.select_for_update().get_or_create(
        user=user, asset=asset, defaults={"minimum": minimum, "armed": armed}
    )
    old = None if created else alert.minimum
    if not created and alert.minimum != minimum:
        alert.minimum = minimum
        alert.armed = armed
        alert.updated_at = timezone.now()
        alert.save(update_fields=["minimum", "armed", "updated_at"])
    if created or old != minimum:
        audit_event_record(
            code=AuditCode.BALANCE_ALERT_SET,
            user=user,
            acting_user=user,
            target=alert,
            meta=meta,
            extra={
                "asset": asset.code,
                "old": None if old is None else format_units(old, asset.decimals),
                "new": format_units(minimum, asset.decimals),
            },
        )
    return alert


@transaction.atomic
def balance_alert_delete(
    *, user: User, asset: Asset, meta: RequestMeta | None = None
) -> bool:
    alert = BalanceAlert.objects.filter(user=user, asset=asset).first()
    if alert is None:
        return False
    audit_event_record(
        code=AuditCode.BALANCE_ALERT_SET,
        user=user,
        acting_user=user,
        target=alert,
        meta=meta,
        extra={
            "asset": asset.code,
            "old": format_units(alert.minimum, asset.decimals),
            "new": None,
        },
    )
    alert.delete()
    return True


def balance_alerts_check(event: BalancesChanged) -> None:
    """Subscriber of `BalancesChanged`, in the posting's transaction (the ledger's
    hot path): one statement per posting batch, whatever the number of
    accounts that moved (wallet.queries.balance_alerts_flip), and none when no
    available balance moved or their owners are known to have no alert
    (`without_alerts`, read under the user's lock that setting an alert takes)."""
    without = event.without_alerts
    available = {
        (account.owner_id, account.asset_id): account.balance
        for account in event.accounts
        if account.owner_id is not None
        and account.kind == Account.Kind.AVAILABLE
        and account.owner_id not in without
    }
    for user_id, code, minimum, balance in queries.balance_alerts_flip(
        available=available
    ):
        record(
            BalanceBelowMinimum(
                user_id=user_id, asset=code, minimum=minimum, available=balance
            )
        )
