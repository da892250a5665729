"""Price alerts: a user's "last price at or above / at or below X" on an
instrument, fired by the matcher's trades (never by polling).

Rules (docs/alerts.md):
- `above X` fires on a trade at a price >= X; `below X` on a trade at <= X. A
  trade exactly at X fires both kinds.
- The matcher's run records one `MatchingRunApplied`; its in-transaction
  subscriber `price_alerts_check` reads, in one query, the instrument's active
  alerts that the run's lowest or highest trade price crosses, and fires each
  once with the FIRST trade of the run (in sequence order) that crosses it.
- One-shot: fires once and goes inactive. Repeating: stays active and rests
  until `cooldown_until` (the firing time plus its cool-down); a trade during
  the rest does not fire it.
- The run holds the instrument's row lock and the alert rows are locked with
  it: each trade fires an alert at most once, and a crashed run rolls its
  firings back with its trades.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import cast

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from config.domain_errors import ApplicationError, Conflict
from config.events import record
from trading import queries
from trading.errors import TradingErrorCode as Code
from trading.events import MatchingRunApplied, PriceAlertTriggered
from trading.models import Instrument, PriceAlert, Trade
from trading.selectors import price_alert_not_found
from trading.units import price_to_ticks, ticks_to_price

# Active alerts one user may have at a time (inactive ones do not count).
MAX_ACTIVE_PER_USER = 50
# A repeating alert rests at least this long after each firing, at most a week.
MIN_COOLDOWN_SECONDS = 60
MAX_COOLDOWN_SECONDS = 7 * 24 * 3600

_UNSET = object()


def _condition(value: str) -> str:
    if value not in PriceAlert.Condition.values:
        raise ApplicationError(
            Code.INVALID_PRICE_ALERT,
            'condition: must be "above" or "below".',
            details={"condition": ['Must be "above" or "below".']},
        )
    return value


def _cooldown(*, repeating: bool, cooldown_seconds: int | None) -> int:
    """The cool-down to store: none for a one-shot alert; for a repeating one a
    value in [MIN_COOLDOWN_SECONDS, MAX_COOLDOWN_SECONDS] (the minimum when
    none is given)."""
    if not repeating:
        if cooldown_seconds:
            raise ApplicationError(
                Code.INVALID_PRICE_ALERT,
                "cooldown_seconds: only a repeating alert has a cool-down.",
                details={"cooldown_seconds": ["Only for a repeating alert."]},
            )
        return 0
    seconds = MIN_COOLDOWN_SECONDS if cooldown_seconds is None else cooldown_seconds
    if not MIN_COOLDOWN_SECONDS <= seconds <= MAX_COOLDOWN_SECONDS:
        message = f"must be between {MIN_COOLDOWN_SECONDS} and {MAX_COOLDOWN_SECONDS}."
        raise ApplicationError(
            Code.INVALID_PRICE_ALERT,
            f"cooldown_seconds: {message}",
            details={"cooldown_seconds": [message.capitalize()]},
        )
    return seconds


def _user_lock(user: User) -> None:
    """One alert write of a user at a time, so the active count is exact (the
    row lock that does not block the matcher's fills, which reference it)."""
    User.objects.select_for_update(no_key=True).filter(pk=user.pk).exists()


def _check_active_limit(user: User, *, exclude: int | None = None) -> None:
    active = PriceAlert.objects.filter(user=user, active=True)
    if exclude is not None:
        active = active.exclude(pk=exclude)
    if active.count() >= MAX_ACTIVE_PER_USER:
        raise Conflict(
            Code.TOO_MANY_PRICE_ALERTS,
            f"active: at most {MAX_ACTIVE_PER_USER} active price alerts; "
            "delete or pause one first.",
            details={
                "active": [f"At most {MAX_ACTIVE_PER_USER} active price alerts."],
                "limit": MAX_ACTIVE_PER_USER,
            },
        )


@transaction.atomic
def price_alert_create(
    *,
    user: User,
    instrument: Instrument,
    condition: str,
    price: str,
    repeating: bool = False,
    cooldown_seconds: int | None = None,
) -> PriceAlert:
    """A new active alert. `price` is a decimal string in the quote asset, on
    the instrument's tick (an off-tick price is refused, never rounded)."""
    condition = _condition(condition)
    price_ticks = price_to_ticks(instrument, price, field="price")
    cooldown = _cooldown(repeating=repeating, cooldown_seconds=cooldown_seconds)
    _user_lock(user)
    _check_active_limit(user)
    return PriceAlert.objects.create(
        user=user,
        instrument=instrument,
        condition=condition,
        price_ticks=price_ticks,
        repeating=repeating,
        cooldown_seconds=cooldown,
    )


@transaction.atomic
def price_alert_update(
    *,
    user: User,
    alert_id: int,
    condition: str | None = None,
    price: str | None = None,
    repeating: bool | None = None,
    cooldown_seconds: object = _UNSET,
    active: bool | None = None,
) -> PriceAlert:
    """Change what is given (`cooldown_seconds=None` asks for the least).
    Re-activating (`active=True`) a fired one-shot alert
    arms it again, and counts against the active limit; any change ends a
    repeating alert's current rest."""
    _user_lock(user)
    alert = (
        PriceAlert.objects.select_for_update()
        .select_related("instrument__base", "instrument__quote")
        .filter(user=user, pk=alert_id)
        .first()
    )
    if alert is None:
        raise price_alert_not_found(alert_id)
    if condition is not None:
        alert.condition = _condition(condition)
    if price is not None:
        alert.price_ticks = price_to_ticks(alert.instrument, price, field="price")
    if repeating is not None:
        alert.repeating = repeating
    wanted: int | None
    if cooldown_seconds is _UNSET:  # kept (a new repeating alert gets the least)
        wanted = (alert.cooldown_seconds or None) if alert.repeating else None
    else:
        wanted = cast("int | None", cooldown_seconds)
    alert.cooldown_seconds = _cooldown(
        repeating=alert.repeating, cooldown_seconds=wanted
    )
    if active is True and not alert.active:
        _check_active_limit(user, exclude=alert.pk)
    if active is not None:
        alert.active = active
    alert.cooldown_until = None
    alert.updated_at = timezone.now()
    alert.save()
    return alert


@transaction.atomic
def price_alert_delete(*, user: User, alert_id: int) -> None:
    deleted, _ = PriceAlert.objects.filter(user=user, pk=alert_id).delete()
    if not deleted:
        raise price_alert_not_found(alert_id)


def _first_crossing(alert: PriceAlert, trades: Sequence[Trade]) -> Trade | None:
    """The run's first trade (in sequence order) at or beyond the alert's price."""
    above = alert.condition == PriceAlert.Condition.ABOVE
    for trade in trades:
        if (
            (trade.price_ticks >= alert.price_ticks)
            if above
            else (trade.price_ticks <= alert.price_ticks)
        ):
            return trade
    return None


def price_alerts_check(event: MatchingRunApplied) -> None:
    """Subscriber of `MatchingRunApplied`, in the run's transaction (under the
    instrument lock): fire the alerts the run's trades crossed. One query when
    nothing fires (most runs), none when the run made no trade."""
    trades = sorted(event.trades, key=lambda trade: trade.seq)
    if not trades:
        return
    instrument = event.instrument
    now = timezone.now()
    crossed = queries.price_alerts_crossed_lock(
        instrument_id=instrument.pk,
        low_ticks=min(trade.price_ticks for trade in trades),
        high_ticks=max(trade.price_ticks for trade in trades),
        now=now,
    )
    if not crossed:
        return
    fired = []
    for alert in crossed:
        trade = _first_crossing(alert, trades)
        if trade is None:  # pragma: no cover - the query's bounds say it crosses
            continue
        alert.triggered_count += 1
        alert.last_triggered_at = now
        alert.last_trade_id = trade.pk
        alert.updated_at = now
        if alert.repeating:
            alert.cooldown_until = now + timedelta(seconds=alert.cooldown_seconds)
        else:
            alert.active = False
            alert.cooldown_until = None
        fired.append(alert)
        record(
            PriceAlertTriggered(
                alert_id=alert.pk,
                user_id=alert.user_id,
                symbol=instrument.symbol,
                condition=alert.condition,
                threshold=ticks_to_price(instrument, alert.price_ticks),
                last_price=ticks_to_price(instrument, trade.price_ticks),
                trade_id=trade.pk,
                repeating=alert.repeating,
            )
        )
    PriceAlert.objects.bulk_update(
        fired,
        [
            "triggered_count",
            "last_triggered_at",
            "last_trade",
            "updated_at",
            "active",
            "cooldown_until",
        ],
    )
