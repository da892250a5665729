"""The order review (docs/trade-screen.md, "Order review"): what an order would
do if placed now. The hold and the rates come from `order_place_judge`, the
placement path itself run without writing, so the review and the placement
cannot disagree; the expected fill walks the current book (trading/estimate.py).
The trading preference (skip the review for limit orders) is set here too."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from trading import queries
from trading.estimate import FillEstimate, fill_estimate
from trading.holds import MARKET_TYPES, STOP_TYPES
from trading.models import Instrument, Order, TradingPreference
from trading.selectors import trading_preference_skips_limit_review
from trading.services.orders import order_place_judge
from wallet.models import Hold
from wallet.selectors import available_balance

BOOK_LEVELS = 500  # levels walked at most (a bigger order's estimate stops there)


@dataclass(frozen=True)
class OrderPreview:
    order: Order  # as placement would write it (not saved), its instrument set
    hold: Hold  # the amount placement would hold (not written)
    available: int  # the hold asset's available balance before the hold
    estimate: FillEstimate
    review_required: bool  # the trade screen's rule, for this user


def review_required(
    *, order: Order, hold_amount: int, available: int, skip_limit_review: bool
) -> bool:
    """Market and stop orders always; a limit order when it holds at least
    `TRADING_REVIEW_LARGE_PERCENT` of the balance it draws on, unless the user
    skips the review for limit orders."""
    if order.type in MARKET_TYPES or order.type in STOP_TYPES:
        return True
    if skip_limit_review:
        return False
    return hold_amount * 100 >= settings.TRADING_REVIEW_LARGE_PERCENT * available


def order_preview(*, user: User, symbol: str, **fields) -> OrderPreview:
    """`order_place`'s arguments (client_order_id ignored): the preview, or the
    error placing it now would raise."""
    fields.pop("client_order_id", None)
    order, hold = order_place_judge(user=user, symbol=symbol, **fields)
    instrument: Instrument = order.instrument
    opposite = Order.Side.SELL if order.side == Order.Side.BUY else Order.Side.BUY
    levels = queries.book_levels(
        instrument_id=instrument.pk, side=opposite, limit=BOOK_LEVELS
    )
    available = available_balance(user=user, asset=hold.asset)
    return OrderPreview(
        order=order,
        hold=hold,
        available=available,
        estimate=fill_estimate(order=order, instrument=instrument, levels=levels),
        review_required=review_required(
            order=order,
            hold_amount=hold.amount,
            available=available,
            skip_limit_review=trading_preference_skips_limit_review(user=user),
        ),
    )


@transaction.atomic
def trading_preference_set(*, user: User, skip_limit_review: bool) -> TradingPreference:
    """Set whether the user's limit orders skip the review step."""
    preference, _ = TradingPreference.objects.select_for_update().get_or_create(
        user=user
    )
    preference.skip_limit_review = bool(skip_limit_review)
    preference.updated_at = timezone.now()
    preference.save(update_fields=["skip_limit_review", "updated_at"])
    return preference
