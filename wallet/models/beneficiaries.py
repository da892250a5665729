"""The beneficiary address book: where a user's withdrawals may go.

A beneficiary is a destination on one payout rail (`wallet.destinations`),
validated and normalized before it is stored. It starts `pending_confirmation`;
the user's second factor (or, without one, an emailed single-use link) confirms
it, and it is usable for withdrawals from `usable_from` (confirmation plus
WALLET_BENEFICIARY_COOLOFF_HOURS). Statuses change only through
`wallet.services.beneficiaries`, with a history row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.models import StatusChange
from wallet.destinations import PayoutRail

USER = settings.AUTH_USER_MODEL


class Beneficiary(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending_confirmation", "Waiting for confirmation"
        CONFIRMED = "confirmed", "Confirmed"
        REMOVED = "removed", "Removed"

    TRANSITIONS = {
        Status.PENDING: (Status.CONFIRMED, Status.REMOVED),
        Status.CONFIRMED: (Status.REMOVED,),
        Status.REMOVED: (),
    }

    user = models.ForeignKey(
        USER, on_delete=models.PROTECT, related_name="beneficiaries"
    )
    rail = models.CharField(max_length=24, choices=PayoutRail.choices)
    label = models.CharField(max_length=64)
    destination = models.CharField(
        max_length=200, help_text="Normalized by wallet.destinations."
    )
    status = models.CharField(
        max_length=24, choices=Status.choices, default=Status.PENDING
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    usable_from = models.DateTimeField(
        null=True,
        blank=True,
        help_text="confirmed_at + WALLET_BENEFICIARY_COOLOFF_HOURS.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "beneficiaries"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "rail", "destination"],
                condition=~Q(status="removed"),
                name="beneficiary_unique_live",
            ),
            models.CheckConstraint(
                condition=Q(status="pending_confirmation")
                | Q(status="removed")
                | Q(confirmed_at__isnull=False, usable_from__isnull=False),
                name="beneficiary_confirmed_has_dates",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="beneficiary_user_status")
        ]

    def __str__(self) -> str:
        return f"beneficiary {self.pk} {self.rail}"

    def is_usable(self, *, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.status == self.Status.CONFIRMED
            and self.usable_from is not None
            and self.usable_from <= now
        )


class BeneficiaryStatusChange(StatusChange):
    beneficiary = models.ForeignKey(
        Beneficiary, on_delete=models.PROTECT, related_name="history"
    )
    old_status = models.CharField(max_length=24, blank=True)
    new_status = models.CharField(max_length=24)
