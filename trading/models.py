"""Instruments, orders, the command queue the matcher consumes, trades and fills.

Amounts: prices are stored in engine ticks and quantities in lots (what the engine
speaks); money columns (notional, fees) in integer units of the asset. The
instrument converts: price units = ticks * tick_size (quote units per whole base
unit), quantity units = lots * lot_size (base units), and the notional of one tick
times one lot is exactly `notional_per_tick_lot` quote units.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from config.append_only import append_only_triggers
from config.models import StatusHistory
from wallet.models import Asset, Hold


class Instrument(models.Model):
    class Status(models.TextChoices):
        TRADING = "trading", "Trading"
        HALTED = "halted", "Halted (no matching, cancels allowed)"
        CLOSED = "closed", "Closed"

    class FeePolicy(models.TextChoices):
        """Which asset each side pays its fee in (trading/fees.py)."""

        QUOTE = "quote", "Quote (both sides pay in the quote asset)"
        RECEIVED = "received", "Received (each side pays in what it receives)"

    symbol = models.CharField(max_length=32, unique=True)
    base = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    quote = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    tick_size = models.BigIntegerField(
        help_text="Price step, in quote units per one whole base unit."
    )
    lot_size = models.BigIntegerField(help_text="Quantity step, in base units.")
    min_quantity = models.BigIntegerField(default=0, help_text="Base units.")
    min_notional = models.BigIntegerField(default=0, help_text="Quote units.")
    maker_fee_bps = models.PositiveIntegerField(default=10)
    taker_fee_bps = models.PositiveIntegerField(default=20)
    fee_policy = models.CharField(
        max_length=8,
        choices=FeePolicy.choices,
        help_text="Fixed at creation: quote (brokers, shares) or received (crypto).",
    )
    price_band_percent = models.PositiveIntegerField(
        default=10, help_text="Limit prices within this % of the last trade; 0 = off."
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.TRADING
    )
    status_reason = models.CharField(max_length=255, blank=True)
    # The public sequence: +1 per book change or trade (the engine's sequence).
    engine_seq = models.BigIntegerField(default=0)
    # +1 per committed matching batch: a worker trusts its in-memory book only at
    # this exact version (stops enter the book without moving engine_seq).
    book_version = models.BigIntegerField(default=0)
    # Time priority of the next order that enters the book (for rebuilds).
    next_priority = models.BigIntegerField(default=1)
    last_price_ticks = models.BigIntegerField(null=True, blank=True)
    # Sessions (docs/sessions.md): no calendar = continuous trading, as before.
    calendar = models.ForeignKey(
        "calendars.TradingCalendar",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="instruments",
    )
    volatility_band_bps = models.PositiveIntegerField(
        default=0,
        help_text="A trade this far from the last price starts a call; 0 = off.",
    )
    volatility_call_seconds = models.PositiveIntegerField(
        default=120, help_text="Length of a volatility interruption's call."
    )
    volatility_random_seconds = models.PositiveIntegerField(
        default=30, help_text="The call ends up to this much later (random)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("symbol",)
        constraints = [
            models.CheckConstraint(
                condition=Q(tick_size__gt=0) & Q(lot_size__gt=0),
                name="instrument_steps_positive",
            ),
            models.CheckConstraint(
                condition=~Q(base=F("quote")), name="instrument_distinct_assets"
            ),
            models.CheckConstraint(
                condition=Q(maker_fee_bps__lte=1000) & Q(taker_fee_bps__lte=1000),
                name="instrument_fees_at_most_10_percent",
            ),
            models.CheckConstraint(
                condition=Q(fee_policy__in=["quote", "received"]),
                name="instrument_fee_policy_valid",
            ),
            models.CheckConstraint(
                condition=Q(volatility_band_bps__lte=10000)
                & Q(volatility_call_seconds__gte=1)
                & Q(volatility_call_seconds__lte=3600)
                & Q(volatility_random_seconds__lte=3600),
                name="instrument_volatility_settings_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.symbol

    @property
    def notional_per_tick_lot(self) -> int:
        """Quote units of one tick x one lot; exact by construction (validated)."""
        return self.tick_size * self.lot_size // 10**self.base.decimals


class FeeOverride(models.Model):
    """Per-user fee rates, for one instrument or (instrument empty) for all."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    instrument = models.ForeignKey(
        Instrument, null=True, blank=True, on_delete=models.CASCADE
    )
    maker_fee_bps = models.PositiveIntegerField()
    taker_fee_bps = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "instrument"], name="fee_override_unique"
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(instrument__isnull=True),
                name="fee_override_unique_default",
            ),
            models.CheckConstraint(
                condition=Q(maker_fee_bps__lte=1000) & Q(taker_fee_bps__lte=1000),
                name="fee_override_at_most_10_percent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.instrument_id or '*'}"


class Order(models.Model):
    class Side(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"

    class Type(models.TextChoices):
        LIMIT = "limit", "Limit"
        MARKET = "market", "Market"
        STOP_LIMIT = "stop_limit", "Stop limit"
        STOP_MARKET = "stop_market", "Stop market"

    class TimeInForce(models.TextChoices):
        GTC = "gtc", "Good till cancelled"
        IOC = "ioc", "Immediate or cancel"
        FOK = "fok", "Fill or kill"
        GTD = "gtd", "Good till date"
        # expires when the session closes at the end of the trading day
        DAY = "day", "Day"

    class STP(models.TextChoices):
        EXPIRE_TAKER = "expire_taker", "Expire taker"
        EXPIRE_MAKER = "expire_maker", "Expire maker"
        EXPIRE_BOTH = "expire_both", "Expire both"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        OPEN = "open", "Open"
        PARTIALLY_FILLED = "partially_filled", "Partially filled"
        FILLED = "filled", "Filled"
        CANCELLED = "cancelled", "Cancelled"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"

    OPEN_STATUSES = (Status.PENDING, Status.OPEN, Status.PARTIALLY_FILLED)
    FINAL_STATUSES = (
        Status.FILLED,
        Status.CANCELLED,
        Status.REJECTED,
        Status.EXPIRED,
    )

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, related_name="orders"
    )
    client_order_id = models.CharField(max_length=64, null=True, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=16, choices=Type.choices)
    time_in_force = models.CharField(
        max_length=3, choices=TimeInForce.choices, default=TimeInForce.GTC
    )
    post_only = models.BooleanField(default=False)
    stp = models.CharField(max_length=16, choices=STP.choices, default=STP.EXPIRE_TAKER)
    price_ticks = models.BigIntegerField(null=True, blank=True)
    stop_price_ticks = models.BigIntegerField(
        null=True, blank=True, help_text="A trailing stop's current stop price."
    )
    trail_amount_ticks = models.BigIntegerField(
        null=True, blank=True, help_text="Trailing stop: distance from the last price."
    )
    trail_bps = models.PositiveIntegerField(
        null=True, blank=True, help_text="Trailing stop: distance in bps of the last."
    )
    expire_at = models.DateTimeField(
        null=True, blank=True, help_text="Good till date: expires at this second."
    )
    oco_partner = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The other leg of a one-cancels-the-other pair.",
    )
    quantity_lots = models.BigIntegerField(
        null=True, blank=True, help_text="Empty for a market buy bounded by quote."
    )
    quote_quantity = models.BigIntegerField(
        null=True, blank=True, help_text="Market buy budget, quote units."
    )
    quote_limit = models.BigIntegerField(
        null=True, blank=True, help_text="Engine budget of a market buy, ticks x lots."
    )
    open_lots = models.BigIntegerField(
        default=0, help_text="Remaining quantity: placed minus filled, 0 once closed."
    )
    filled_lots = models.BigIntegerField(default=0)
    filled_quote = models.BigIntegerField(default=0, help_text="Quote units traded.")
    fees_paid = models.BigIntegerField(
        default=0,
        help_text="Units of the fee asset: quote, but base for a buy under the "
        "received policy (trading.fees.fee_asset).",
    )
    maker_fee_bps = models.PositiveIntegerField()
    taker_fee_bps = models.PositiveIntegerField()
    fee_policy = models.CharField(
        max_length=8,
        choices=Instrument.FeePolicy.choices,
        help_text="The instrument's fee policy when the order was placed.",
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    reason = models.CharField(
        max_length=32, blank=True, help_text="Reject, cancel or expiry reason."
    )
    stop_triggered = models.BooleanField(default=False)
    book_priority = models.BigIntegerField(null=True, blank=True)
    # shared by the two legs of an OCO pair, sized to the larger leg's need
    hold = models.ForeignKey(
        Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_order_id"],
                condition=Q(client_order_id__isnull=False),
                name="order_client_id_unique_per_user",
            ),
            models.CheckConstraint(
                condition=Q(open_lots__gte=0)
                & Q(filled_lots__gte=0)
                & Q(filled_quote__gte=0)
                & Q(fees_paid__gte=0),
                name="order_amounts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(time_in_force="gtd", expire_at__isnull=False)
                | (~Q(time_in_force="gtd") & Q(expire_at__isnull=True)),
                name="order_expire_at_iff_gtd",
            ),
            models.CheckConstraint(
                condition=Q(trail_amount_ticks__isnull=True)
                | Q(trail_bps__isnull=True),
                name="order_one_trail",
            ),
        ]
        indexes = [
            models.Index(
                fields=["user", "-created_at", "-id"], name="order_user_recent"
            ),
            # the open-order limit counts these at every placement
            models.Index(
                fields=["user"],
                name="order_open_by_user",
                condition=Q(status__in=["pending", "open", "partially_filled"]),
            ),
            models.Index(
                fields=["instrument", "status"],
                name="order_open_by_instrument",
                condition=Q(status__in=["pending", "open", "partially_filled"]),
            ),
            # the matcher's per-run look for orders past their time
            models.Index(
                fields=["instrument", "expire_at"],
                name="order_gtd_due",
                condition=Q(
                    status__in=["pending", "open", "partially_filled"],
                    expire_at__isnull=False,
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.pk} {self.side} {self.instrument_id}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_buy(self) -> bool:
        return self.side == self.Side.BUY

    @property
    def is_trailing(self) -> bool:
        return self.trail_amount_ticks is not None or self.trail_bps is not None


class OrderStatusChange(StatusHistory):
    """Append-only history of an order's states. The matcher writes these in bulk
    (it checks each move against `trading.transitions.ORDER_TRANSITIONS`)."""

    from_field = "from_status"
    to_field = "to_status"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="history")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    reason = models.CharField(max_length=32, blank=True)
    engine_seq = models.BigIntegerField(null=True, blank=True)

    class Meta(StatusHistory.Meta):
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.order_id}: {super().__str__()}"


class OrderCommand(models.Model):
    """A command waiting for the matcher. Commands live here before any broker
    hears of them; the broker only says "look at instrument X now"."""

    class Kind(models.TextChoices):
        PLACE = "place", "Place"
        CANCEL = "cancel", "Cancel"
        AMEND = "amend", "Amend"

    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, related_name="commands"
    )
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="commands")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    new_price_ticks = models.BigIntegerField(null=True, blank=True)
    new_quantity_lots = models.BigIntegerField(null=True, blank=True)
    hold_added = models.BigIntegerField(
        default=0, help_text="Units reserved up front for an amend that may grow."
    )
    result = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["instrument", "id"],
                name="command_pending",
                condition=Q(processed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.order_id}"


class Trade(models.Model):
    """One print on the tape. `seq` is the instrument's sequence after it."""

    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, related_name="trades"
    )
    seq = models.BigIntegerField()
    price_ticks = models.BigIntegerField()
    quantity_lots = models.BigIntegerField()
    quote_amount = models.BigIntegerField(help_text="Quote units.")
    maker_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+")
    taker_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+")
    taker_side = models.CharField(max_length=4, choices=Order.Side.choices)
    auction = models.BooleanField(
        default=False,
        help_text="An uncross (call auction) trade: no maker or taker; the "
        "buy order sits in the taker fields and both sides pay the maker rate.",
    )
    buyer_fee = models.BigIntegerField(
        help_text="Units of buyer_fee_asset: base under the received policy, "
        "quote under quote."
    )
    buyer_fee_asset = models.ForeignKey(
        Asset, on_delete=models.PROTECT, related_name="+"
    )
    seller_fee = models.BigIntegerField(help_text="Quote units (either policy).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "seq"], name="trade_unique_seq"
            ),
            models.CheckConstraint(
                condition=Q(quantity_lots__gt=0) & Q(price_ticks__gt=0),
                name="trade_positive",
            ),
        ]
        indexes = [models.Index(fields=["instrument", "-seq"], name="trade_tape")]
        triggers = append_only_triggers()

    def __str__(self) -> str:
        return f"trade {self.instrument_id}#{self.seq}"


class Fill(models.Model):
    """One side of a trade, as its user sees it."""

    class Liquidity(models.TextChoices):
        MAKER = "maker", "Maker"
        TAKER = "taker", "Taker"
        # an uncross fill: neither side made or took (charged the maker rate)
        AUCTION = "auction", "Auction"

    trade = models.ForeignKey(Trade, on_delete=models.PROTECT, related_name="fills")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="fills"
    )
    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, related_name="+"
    )
    side = models.CharField(max_length=4, choices=Order.Side.choices)
    liquidity = models.CharField(max_length=7, choices=Liquidity.choices)
    price_ticks = models.BigIntegerField()
    quantity_lots = models.BigIntegerField()
    quote_amount = models.BigIntegerField()
    fee = models.BigIntegerField()
    fee_asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="fill_user")
        ]
        triggers = append_only_triggers()

    def __str__(self) -> str:
        return f"fill {self.trade_id} {self.side}"


class PriceAlert(models.Model):
    """A user's "tell me when the last price is above / below X" on an instrument.

    Fired by the matcher's trades, never by polling (trading/services/alerts.py):
    `above` by a trade at or above `price_ticks`, `below` by a trade at or below
    it. A one-shot alert fires once and goes inactive; a repeating one stays
    active and rests until `cooldown_until` after each firing."""

    class Condition(models.TextChoices):
        ABOVE = "above", "Last price at or above"
        BELOW = "below", "Last price at or below"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="price_alerts"
    )
    instrument = models.ForeignKey(
        Instrument, on_delete=models.CASCADE, related_name="price_alerts"
    )
    condition = models.CharField(max_length=5, choices=Condition.choices)
    price_ticks = models.BigIntegerField()
    repeating = models.BooleanField(default=False)
    cooldown_seconds = models.PositiveIntegerField(
        default=0, help_text="Rest after each firing of a repeating alert."
    )
    active = models.BooleanField(default=True)
    cooldown_until = models.DateTimeField(null=True, blank=True)
    triggered_count = models.PositiveIntegerField(default=0)
    last_triggered_at = models.DateTimeField(null=True, blank=True)
    last_trade = models.ForeignKey(
        Trade,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The trade that fired it last.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(price_ticks__gt=0), name="price_alert_price_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(repeating=True) | Q(cooldown_seconds=0),
                name="price_alert_cooldown_repeating_only",
            ),
        ]
        indexes = [
            # the matcher's one read per run: the instrument's active alerts
            models.Index(
                fields=["instrument", "condition", "price_ticks"],
                condition=Q(active=True),
                name="price_alert_armed",
            ),
            models.Index(
                fields=["user", "-created_at", "-id"], name="price_alert_user"
            ),
        ]

    def __str__(self) -> str:
        return f"price alert {self.pk} {self.condition} {self.price_ticks}"


class TradingPreference(models.Model):
    """A user's trade-screen choices: whether limit orders skip the review step
    (market and stop orders are always reviewed). No row: the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="trading_preference",
    )
    skip_limit_review = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"trading preferences of {self.user_id}"


class WatchlistEntry(models.Model):
    """An instrument a user follows, in the order they arranged (`position`)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlist"
    )
    instrument = models.ForeignKey(
        Instrument, on_delete=models.CASCADE, related_name="+"
    )
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "instrument"], name="watchlist_user_instrument"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} watches {self.instrument_id}"
