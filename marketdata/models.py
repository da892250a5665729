"""Market data kept next to the trades: the published book, candles, user events.

All three are written by the matching batch (and, for balance events, by the
ledger's posting hook) in the SAME transaction as the change they describe, so a
reader sees one consistent sequence and nothing is published that did not commit.
Prices are engine ticks, quantities lots, quote amounts units (as in trading).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from trading.models import Instrument


class BookSnapshot(models.Model):
    """The instrument's book (top levels) as of `seq`: one row, rewritten by every
    matching batch that changed the book or the tape."""

    instrument = models.OneToOneField(
        Instrument, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    seq = models.BigIntegerField(default=0)
    bids = models.JSONField(default=list, help_text="[[price_ticks, lots], ...]")
    asks = models.JSONField(default=list, help_text="[[price_ticks, lots], ...]")
    # The uncross as it would be now, while the book is in a call (the engine's
    # `book.indicative()`); price NULL outside a call or when nothing crosses.
    # Written with the depth, so REST reads what the stream published and a
    # rebuilt book (same orders) has the same value.
    indicative_price = models.BigIntegerField(null=True, blank=True)
    indicative_lots = models.BigIntegerField(default=0)
    indicative_surplus = models.BigIntegerField(default=0)
    indicative_surplus_side = models.CharField(max_length=4, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"book {self.instrument_id}@{self.seq}"


class Candle(models.Model):
    class Interval(models.TextChoices):
        M1 = "1m", "1 minute"
        M5 = "5m", "5 minutes"
        M15 = "15m", "15 minutes"
        H1 = "1h", "1 hour"
        H4 = "4h", "4 hours"
        D1 = "1d", "1 day"
        W1 = "1w", "1 week (from Monday 00:00 UTC)"

    instrument = models.ForeignKey(
        Instrument, on_delete=models.CASCADE, related_name="+"
    )
    interval = models.CharField(max_length=3, choices=Interval.choices)
    open_time = models.DateTimeField(help_text="Start of the interval (UTC).")
    open = models.BigIntegerField(help_text="Ticks.")
    high = models.BigIntegerField()
    low = models.BigIntegerField()
    close = models.BigIntegerField()
    volume = models.BigIntegerField(default=0, help_text="Lots.")
    quote_volume = models.BigIntegerField(default=0, help_text="Quote units.")
    trades = models.PositiveIntegerField(default=0)
    last_seq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instrument", "interval", "open_time"], name="candle_unique"
            ),
            models.CheckConstraint(
                condition=Q(low__lte=models.F("high")) & Q(low__gt=0),
                name="candle_low_le_high",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.interval} {self.open_time:%Y-%m-%d %H:%M}"


class UserEvent(models.Model):
    """One event of one user's stream, kept for replay after a disconnect
    (MARKETDATA_EVENT_RETENTION_HOURS). `id` is the event_id clients see."""

    class Type(models.TextChoices):
        ORDER = "order", "Order"
        FILL = "fill", "Fill"
        BALANCE = "balance", "Balance"
        NOTIFICATION = "notification", "Notification"

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    type = models.CharField(max_length=16, choices=Type.choices)
    data = models.JSONField(help_text="The message without type and event_id.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["user", "id"], name="user_event_replay")]

    def __str__(self) -> str:
        return f"event {self.pk} {self.type} for {self.user_id}"

    def message(self) -> dict:
        return {"type": self.type, "event_id": self.pk, **self.data}
