"""Abstract models shared by the apps: the status history of every stateful row,
written by `config.transitions.transition()` and never edited (the database
refuses it on PostgreSQL, `config.append_only`; these classes in Python)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.append_only import append_only_triggers

_REFUSED = "Status history is append-only."


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValueError(_REFUSED)

    def delete(self):
        raise ValueError(_REFUSED)


class StatusHistory(models.Model):
    """One status change of one subject (the row its foreign key points to). A
    concrete history names its two status columns (`from_field`, `to_field`), so
    `transition()` can write any of them."""

    from_field = "old_status"
    to_field = "new_status"

    created_at = models.DateTimeField(default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering: ClassVar[tuple[str, ...]] = ("created_at", "id")
        triggers = append_only_triggers()

    def __str__(self) -> str:
        old = getattr(self, self.from_field) or "-"
        return f"{old} -> {getattr(self, self.to_field)}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError(_REFUSED)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError(_REFUSED)


class StatusChange(StatusHistory):
    """The common shape: from, to, who (null for the system), a note."""

    old_status = models.CharField(max_length=16, blank=True)
    new_status = models.CharField(max_length=16)
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.CharField(max_length=255, blank=True)

    class Meta(StatusHistory.Meta):
        abstract = True
