"""The user's watchlist: add (idempotent) and remove an instrument."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from accounts.models import User
from trading.models import Instrument, WatchlistEntry


@transaction.atomic
def watchlist_add(*, user: User, instrument: Instrument) -> tuple[WatchlistEntry, bool]:
    """Adds the instrument at the end of the user's list; (entry, created). Adding
    one already there returns it unchanged. The user row is locked so two adds at
    once cannot take the same position."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    entry = WatchlistEntry.objects.filter(user=user, instrument=instrument).first()
    if entry is not None:
        return entry, False
    last = WatchlistEntry.objects.filter(user=user).aggregate(m=Max("position"))["m"]
    entry = WatchlistEntry.objects.create(
        user=user, instrument=instrument, position=0 if last is None else last + 1
    )
    return entry, True


@transaction.atomic
def watchlist_remove(*, user: User, instrument: Instrument) -> bool:
    """Removes the instrument from the user's list; False when it was not there."""
    deleted, _ = WatchlistEntry.objects.filter(
        user=user, instrument=instrument
    ).delete()
    return deleted > 0
