"""Back-office state: the recorded outcomes of ledger verification, and the user
page (a proxy of the user, read-only in the admin).

Only `backoffice.services` writes a `LedgerVerification`; a row is written once,
complete, when its run ends, and never changed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import User


class LedgerVerification(models.Model):
    """One run of every `verify_ledger` check and what it found."""

    class Trigger(models.TextChoices):
        BEAT = "beat", "Scheduled (beat)"
        STAFF = "staff", "Requested by staff"

    # Makes a run idempotent: "beat:<period start>" or "staff:<uuid>". A re-delivered
    # or duplicate task finds its row and ends.
    run_key = models.CharField(max_length=64, unique=True)
    trigger = models.CharField(max_length=8, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(db_index=True)
    duration_ms = models.PositiveIntegerField()
    ok = models.BooleanField()
    check_count = models.PositiveSmallIntegerField(
        help_text="How many checks ran (0 when the run could not finish)."
    )
    problem_count = models.PositiveIntegerField(default=0)
    # [{"check": <check name>, "problem": <text>}, ...]; at most
    # PROBLEMS_KEPT of them (problem_count says how many there were).
    problems = models.JSONField(default=list, blank=True)
    error = models.TextField(
        blank=True, help_text="Why the run could not finish (timeout, database error)."
    )

    PROBLEMS_KEPT = 500

    class Meta:
        ordering = ("-finished_at", "-id")
        get_latest_by = ("finished_at", "id")
        permissions = [
            ("run_ledgerverification", "Can run the ledger verification now"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ok=False) | Q(problem_count=0, error=""),
                name="ledger_verification_ok_means_clean",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__gte=models.F("started_at")),
                name="ledger_verification_finished_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"ledger verification {self.finished_at:%Y-%m-%d %H:%M} ({self.result})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Ledger verifications are written once.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger verifications are kept.")

    @property
    def result(self) -> str:
        if self.ok:
            return "ok"
        return "error" if self.error else "failed"


class UserOverview(User):
    """The one-page view of a user for support and operators (admin only)."""

    class Meta:
        proxy = True
        verbose_name = "user page"
        verbose_name_plural = "user pages"
