"""Balance alerts: flag an asset whose available balance is below a minimum."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from wallet.models import Asset, BalanceAlert
from wallet.money import format_units


@transaction.atomic
def balance_alert_set(
    *, user: User, asset: Asset, minimum: int, meta: RequestMeta | None = None
) -> BalanceAlert:
    alert, created = BalanceAlert.objects.select_for_update().get_or_create(
        user=user, asset=asset, defaults={"minimum": minimum}
    )
    old = None if created else alert.minimum
    if not created and alert.minimum != minimum:
        alert.minimum = minimum
        alert.updated_at = timezone.now()
        alert.save(update_fields=["minimum", "updated_at"])
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
