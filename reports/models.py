"""Report tables for the business: one row per (UTC day, key), written only by
`reports.services.reports_build` from the append-only history of the other apps.
The admin reads these rows and nothing else.

Money is in integer smallest units of the named asset, like the ledger
(`wallet.money.format_units` shows them).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from trading.models import Instrument
from wallet.models import Asset


class DailyTrading(models.Model):
    """Trades of one instrument on one UTC day."""

    day = models.DateField()
    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, related_name="+"
    )
    trade_count = models.BigIntegerField(default=0)
    volume = models.BigIntegerField(default=0, help_text="Base units traded.")
    notional = models.BigIntegerField(default=0, help_text="Quote units traded.")
    # Fee revenue from the ledger's fee postings of the day's trade journals, per
    # fee asset (an instrument's fees are paid in its base or its quote asset).
    fees_base = models.BigIntegerField(default=0, help_text="Base units.")
    fees_quote = models.BigIntegerField(default=0, help_text="Quote units.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "daily trading"
        verbose_name_plural = "daily trading"
        ordering = ("-day", "instrument_id")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "instrument"], name="report_trading_unique_day"
            ),
            models.CheckConstraint(
                condition=Q(trade_count__gte=0)
                & Q(volume__gte=0)
                & Q(notional__gte=0)
                & Q(fees_base__gte=0)
                & Q(fees_quote__gte=0),
                name="report_trading_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.instrument_id}"


class DailyFunding(models.Model):
    """Money in and out of one asset on one UTC day: deposits credited that day,
    withdrawals paid out that day (`reports.queries.WITHDRAWAL_PAID_OUT_STATUSES`)."""

    day = models.DateField()
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    deposit_count = models.BigIntegerField(default=0)
    deposit_amount = models.BigIntegerField(default=0, help_text="Asset units.")
    withdrawal_count = models.BigIntegerField(default=0)
    withdrawal_amount = models.BigIntegerField(default=0, help_text="Asset units.")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "daily deposits and withdrawals"
        verbose_name_plural = "daily deposits and withdrawals"
        ordering = ("-day", "asset_id")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "asset"], name="report_funding_unique_day"
            ),
            models.CheckConstraint(
                condition=Q(deposit_count__gte=0)
                & Q(deposit_amount__gte=0)
                & Q(withdrawal_count__gte=0)
                & Q(withdrawal_amount__gte=0),
                name="report_funding_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.asset_id}"


class DailyKyc(models.Model):
    """The KYC funnel of one UTC day: cases submitted that day, and cases decided
    that day with the median time from their submission to that decision."""

    day = models.DateField(unique=True)
    submitted = models.BigIntegerField(default=0)
    approved = models.BigIntegerField(default=0)
    rejected = models.BigIntegerField(default=0)
    resubmission_requested = models.BigIntegerField(default=0)
    median_decision_seconds = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Lower median over the day's decisions; empty without decisions.",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "daily KYC funnel"
        verbose_name_plural = "daily KYC funnel"
        ordering = ("-day",)

    def __str__(self) -> str:
        return str(self.day)


class DailySignups(models.Model):
    """Users who joined on one UTC day."""

    day = models.DateField(unique=True)
    new_users = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "daily new users"
        verbose_name_plural = "daily new users"
        ordering = ("-day",)

    def __str__(self) -> str:
        return str(self.day)


class ReportWatermark(models.Model):
    """How far the reports are built: the time of the last build and, per source
    table, the highest id that build saw. The next build recomputes from the day of
    `built_at` (less the late-row allowance) or the day of the oldest row with a
    higher id, whichever is earlier, through today."""

    name = models.CharField(max_length=32, unique=True)
    built_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty until the first build."
    )
    last_ids = models.JSONField(default=dict)
    days_built = models.PositiveIntegerField(
        default=0, help_text="Days recomputed by the last build."
    )
    rows_written = models.PositiveIntegerField(
        default=0, help_text="Report rows added, changed or removed by the last build."
    )

    def __str__(self) -> str:
        return f"{self.name} @ {self.built_at:%Y-%m-%d %H:%M}"
