"""Reads of notifications shared by the pages, the centre and the API."""

from __future__ import annotations

from django.db.models import QuerySet

from notifications.models import Notification


def notification_list(*, user) -> QuerySet[Notification]:
    """The user's in-app items, newest first."""
    return Notification.objects.filter(user=user, in_app=True).order_by(
        "-created_at", "-id"
    )


def notification_unread_count(*, user) -> int:
    return Notification.objects.filter(
        user=user, in_app=True, read_at__isnull=True
    ).count()
