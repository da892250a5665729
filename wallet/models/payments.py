"""What the payment providers told us, kept: every verified webhook event once
(the idempotency key of crediting and reversing), and every reversal of a
deposit (a refund or a lost dispute) with the part the user could not cover."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.append_only import append_only_triggers
from wallet.models.flows import Deposit
from wallet.models.ledger import Journal


class ProviderEvent(models.Model):
    """One verified webhook event, stored before it is acted on; a delivery of an
    event id already here changes nothing. An event about a payment the wallet
    cannot place yet (a refund delivered before the payment's success) waits,
    `deferred`, and is applied when the payment is credited."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        DEFERRED = "deferred", "Waiting for the payment it names"
        IGNORED = "ignored", "Nothing to do"

    provider = models.CharField(max_length=32)
    event_id = models.CharField(max_length=128)
    kind = models.CharField(max_length=32)
    # the deposit's provider reference or its payment id, as the event names it
    reference = models.CharField(max_length=128)
    amount = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=16, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    note = models.CharField(max_length=255, blank=True)
    deposit = models.ForeignKey(
        Deposit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="provider_events",
    )
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="provider_event_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["provider", "reference"],
                condition=Q(outcome="deferred"),
                name="provider_event_deferred",
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.event_id}"


class DepositReversal(models.Model):
    """Money of a credited deposit going back to the payer: a refund or a lost
    dispute. `covered` came out of the user's available balance; `shortfall`
    (what had already been spent) went to the user's receivable account."""

    class Kind(models.TextChoices):
        REFUND = "refund", "Refund"
        DISPUTE = "dispute", "Dispute lost"

    deposit = models.ForeignKey(
        Deposit, on_delete=models.PROTECT, related_name="reversals"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # the provider's id of the refund or dispute: one reversal each
    provider_id = models.CharField(max_length=128)
    amount = models.BigIntegerField()
    covered = models.BigIntegerField()
    shortfall = models.BigIntegerField()
    journal = models.OneToOneField(Journal, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deposit", "provider_id"], name="deposit_reversal_unique"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0)
                & Q(covered__gte=0)
                & Q(shortfall__gte=0)
                & Q(amount=models.F("covered") + models.F("shortfall")),
                name="deposit_reversal_split",
            ),
        ]
        # a reversal is history: never edited or removed (config/append_only.py)
        triggers = append_only_triggers()

    def __str__(self) -> str:
        return f"{self.kind} {self.provider_id} of deposit {self.deposit_id}"


class ReconciliationItem(models.Model):
    """A difference between a provider's own report of money moved and the
    ledger, found by the daily reconciliation, for an operator to resolve (with
    an adjustment through the two-person flow, or an explanation)."""

    class Kind(models.TextChoices):
        MISSING_CREDIT = "missing_credit", "Paid at the provider, not credited"
        AMOUNT_DIFFERENCE = "amount_difference", "Amounts differ"
        UNKNOWN_PAYMENT = "unknown_payment", "A payment no deposit knows"
        MISSING_REVERSAL = "missing_reversal", "Refunded or disputed, not reversed"
        NOT_AT_PROVIDER = "not_at_provider", "Credited here, absent at the provider"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    provider = models.CharField(max_length=32)
    day = models.DateField(help_text="The UTC day of the provider report.")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # what identifies the difference: the provider's line id, or our deposit's
    key = models.CharField(max_length=128)
    payment_id = models.CharField(max_length=128, blank=True)
    deposit = models.ForeignKey(
        Deposit, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    currency = models.CharField(max_length=16)
    provider_amount = models.CharField(max_length=40, blank=True)
    ledger_amount = models.CharField(max_length=40, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN
    )
    resolution = models.TextField(blank=True)
    adjustment = models.ForeignKey(
        "wallet.Adjustment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolved_by = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "kind", "key"], name="reconciliation_item_unique"
            ),
            models.CheckConstraint(
                condition=Q(status="open")
                | (Q(resolved_by__isnull=False) & ~Q(resolution="")),
                name="reconciliation_resolved_with_note",
            ),
        ]
        indexes = [
            models.Index(
                fields=["status", "-created_at"], name="reconciliation_by_status"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.key}"
