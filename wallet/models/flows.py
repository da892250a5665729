"""Money flows that post to the ledger: deposits, withdrawals, adjustments,
transfers; plus per-asset balance alerts. Statuses change only through
`wallet.services` (a transition table plus a history row in the same transaction).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.models import StatusChange
from wallet.destinations import PayoutRail
from wallet.models.beneficiaries import Beneficiary
from wallet.models.ledger import Asset, Hold, Journal

USER = settings.AUTH_USER_MODEL


class Deposit(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending payment"
        CREDITED = "credited", "Credited"
        FAILED = "failed", "Failed"

    TRANSITIONS = {
        Status.PENDING: (Status.CREDITED, Status.FAILED),
        Status.CREDITED: (),
        Status.FAILED: (),
    }

    user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="deposits")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    provider = models.CharField(max_length=32)
    provider_reference = models.CharField(max_length=128, blank=True)
    # the provider's id of the payment itself once it succeeded (Stripe's
    # PaymentIntent, Razorpay's payment): refunds and disputes name it
    payment_id = models.CharField(max_length=128, blank=True)
    # what the provider confirmed and the wallet credited (None until credited)
    credited_amount = models.BigIntegerField(null=True, blank=True)
    # refunded or lost in disputes so far (never above credited_amount)
    reversed_amount = models.BigIntegerField(default=0)
    checkout_url = models.CharField(max_length=512, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    journal = models.OneToOneField(
        Journal, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="deposit_amount_gt_0"
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=~Q(provider_reference=""),
                name="deposit_unique_provider_reference",
            ),
            models.UniqueConstraint(
                fields=["provider", "payment_id"],
                condition=~Q(payment_id=""),
                name="deposit_unique_payment_id",
            ),
            models.CheckConstraint(
                condition=Q(reversed_amount__gte=0)
                & (
                    Q(credited_amount__isnull=True, reversed_amount=0)
                    | Q(reversed_amount__lte=models.F("credited_amount"))
                ),
                name="deposit_reversed_within_credited",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="deposit_user")
        ]

    def __str__(self) -> str:
        return f"deposit {self.pk} {self.provider}:{self.provider_reference}"


class DepositStatusChange(StatusChange):
    deposit = models.ForeignKey(
        Deposit, on_delete=models.PROTECT, related_name="history"
    )


class Withdrawal(models.Model):
    """A user's request to take money out. The hold placed at request time stays
    until the payout is sent (posted to `external`) or the request ends without
    one (voided). A failed payout comes back through a new journal."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        FIRST_APPROVED = "first_approved", "Approved once (second approval pending)"
        APPROVED = "approved", "Approved (to be sent)"
        SENT = "sent", "Sent to the payout rail"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed (funds returned)"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled by user"

    TRANSITIONS = {
        Status.REQUESTED: (
            Status.FIRST_APPROVED,
            Status.APPROVED,
            Status.REJECTED,
            Status.CANCELLED,
        ),
        Status.FIRST_APPROVED: (Status.APPROVED, Status.REJECTED, Status.CANCELLED),
        Status.APPROVED: (Status.SENT, Status.REJECTED),
        Status.SENT: (Status.COMPLETED, Status.FAILED),
        Status.COMPLETED: (),
        Status.FAILED: (),
        Status.REJECTED: (),
        Status.CANCELLED: (),
    }
    # Waiting for an operator's approval (the review queue).
    PENDING_STATUSES = (Status.REQUESTED, Status.FIRST_APPROVED)
    # What counts towards the daily limit: money that is gone or going.
    LIMIT_STATUSES = (
        Status.REQUESTED,
        Status.FIRST_APPROVED,
        Status.APPROVED,
        Status.SENT,
        Status.COMPLETED,
    )
    # The payout reference is recorded from `sent` on.
    PAID_OUT_STATUSES = (Status.SENT, Status.COMPLETED, Status.FAILED)

    user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="withdrawals")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    # Where it goes: the beneficiary chosen, and a snapshot of its rail and
    # normalized destination at request time (the record an operator pays out to).
    beneficiary = models.ForeignKey(
        Beneficiary,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="withdrawals",
    )
    rail = models.CharField(max_length=24, choices=PayoutRail.choices, blank=True)
    destination = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.REQUESTED
    )
    hold = models.OneToOneField(
        Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    first_approved_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    first_approved_at = models.DateTimeField(null=True, blank=True)
    # The final approver (or the operator who rejected).
    decided_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    # the payout rail that carried it (wallet/providers/payouts.py)
    payout_provider = models.CharField(max_length=32, default="manual")
    payout_reference = models.CharField(
        max_length=128,
        blank=True,
        help_text="The rail's reference (bank transfer id, transaction hash).",
    )
    sent_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(
        null=True, blank=True, help_text="When the payout completed or failed."
    )
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [("approve_withdrawal", "Can approve or reject withdrawals")]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="withdrawal_amount_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("user")),
                name="withdrawal_four_eyes",
            ),
            models.CheckConstraint(
                condition=Q(first_approved_by__isnull=True)
                | ~Q(first_approved_by=models.F("user")),
                name="withdrawal_first_approver_not_user",
            ),
            # Two approvers are two people (the first approver may still reject).
            models.CheckConstraint(
                condition=Q(first_approved_by__isnull=True)
                | Q(decided_by__isnull=True)
                | Q(status="rejected")
                | ~Q(first_approved_by=models.F("decided_by")),
                name="withdrawal_two_distinct_approvers",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["sent", "completed", "failed"])
                | ~Q(payout_reference=""),
                name="withdrawal_paid_out_has_reference",
            ),
            models.UniqueConstraint(
                fields=["asset", "payout_reference"],
                condition=~Q(payout_reference=""),
                name="withdrawal_unique_payout_reference",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="withdrawal_user"),
            models.Index(fields=["status", "created_at"], name="withdrawal_queue"),
        ]

    def __str__(self) -> str:
        return f"withdrawal {self.pk}"


class WithdrawalStatusChange(StatusChange):
    withdrawal = models.ForeignKey(
        Withdrawal, on_delete=models.PROTECT, related_name="history"
    )


class Adjustment(models.Model):
    """An operator's manual credit (amount > 0) or debit (amount < 0) of a user's
    available balance against `external`. Maker-checker: a second operator
    approves."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        APPROVED = "approved", "Approved (posted)"
        REJECTED = "rejected", "Rejected"

    TRANSITIONS = {
        Status.PENDING: (Status.APPROVED, Status.REJECTED),
        Status.APPROVED: (),
        Status.REJECTED: (),
    }

    user = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="adjustments")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(help_text="Signed: credit > 0, debit < 0.")
    reason = models.CharField(max_length=255)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    journal = models.OneToOneField(
        Journal, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [("approve_adjustment", "Can approve or reject adjustments")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount=0), name="adjustment_amount_non_zero"
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True)
                | ~Q(decided_by=models.F("requested_by")),
                name="adjustment_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"adjustment {self.pk}"


class AdjustmentStatusChange(StatusChange):
    adjustment = models.ForeignKey(
        Adjustment, on_delete=models.PROTECT, related_name="history"
    )


class Transfer(models.Model):
    sender = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="transfers_sent"
    )
    recipient = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="transfers_received"
    )
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    note = models.CharField(max_length=140, blank=True)
    journal = models.OneToOneField(
        Journal, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="transfer_amount_gt_0"
            ),
            models.CheckConstraint(
                condition=~Q(sender=models.F("recipient")), name="transfer_not_to_self"
            ),
        ]

    def __str__(self) -> str:
        return f"transfer {self.pk}"


class BalanceAlert(models.Model):
    """Flag the user's available balance of `asset` when it is below `minimum`.

    `armed` while the balance is at or above the minimum: the posting that takes
    it below records `BalanceBelowMinimum` and disarms it, and one that brings
    it back at or above re-arms it (wallet/services/alerts.py), so the user
    hears once per crossing."""

    user = models.ForeignKey(
        USER, on_delete=models.CASCADE, related_name="balance_alerts"
    )
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+")
    minimum = models.BigIntegerField()
    armed = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "asset"], name="alert_unique"),
            models.CheckConstraint(
                condition=Q(minimum__gt=0), name="alert_minimum_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"alert {self.user_id} {self.asset_id}"
