"""One way to change a status: a declared table and one function.

Each stateful model declares its table, `from status -> statuses it may move to`
(`Deposit.TRANSITIONS`, `KycCase.TRANSITIONS`, ...). `transition()` checks a move,
saves it, writes its history row and records its domain event in the caller's
transaction; a forbidden move is 409 `invalid_transition` and writes nothing. The
matcher, which writes order states in bulk, calls `transition_check()` alone.
(django-oscar's `set_status` and `OrderStatusChange`.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from functools import cache
from typing import Any

from django.db import models
from django.utils import timezone

from config.domain_errors import Conflict
from config.events import record
from config.models import StatusHistory

TransitionTable = Mapping[str, Collection[str]]


def transition_check(*, table: TransitionTable, old: str, new: str) -> None:
    """409 `invalid_transition` unless `table` allows `old -> new`."""
    if new not in table.get(old, ()):
        raise Conflict(
            "invalid_transition",
            f"status: cannot go from {old} to {new}.",
            details={"status": [old]},
        )


@cache
def _subject_field(history: type[StatusHistory], subject: type[models.Model]) -> str:
    """The history's foreign key to the subject's model."""
    (name,) = (
        field.name
        for field in history._meta.fields
        if field.is_relation and field.related_model is subject
    )
    return name


def transition(
    *,
    obj: Any,  # a model instance with a `status` field
    to: str,
    history: type[StatusHistory],
    table: TransitionTable | None = None,
    fields: Mapping[str, Any] | None = None,
    history_fields: Mapping[str, Any] | None = None,
    event: Callable[[Any, str], object | None] | None = None,
    from_status: str | None = None,
) -> str:
    """Move `obj` (a row the caller has locked) to `to`; return the old status.

    `table` defaults to the model's `TRANSITIONS`. `fields` are set and saved with
    the status (and `updated_at`, when the model has one); `history_fields` go on
    the history row beside the subject and the two statuses (who, a note, ...).
    `event(obj, old)` builds the domain event to record, or None for none.
    `from_status` is where the move starts when that is not `obj`'s own status
    (a new KYC case continues its profile's)."""
    old = obj.status if from_status is None else from_status
    transition_check(
        table=type(obj).TRANSITIONS if table is None else table, old=old, new=to
    )
    obj.status = to
    update_fields = ["status"]
    for name, value in (fields or {}).items():
        setattr(obj, name, value)
        update_fields.append(name)
    if hasattr(obj, "updated_at") and "updated_at" not in update_fields:
        obj.updated_at = timezone.now()
        update_fields.append("updated_at")
    obj.save(update_fields=update_fields)
    history.objects.create(
        **{
            _subject_field(history, obj._meta.model): obj,
            history.from_field: old,
            history.to_field: to,
        },
        **(history_fields or {}),
    )
    if event is not None and (happened := event(obj, old)) is not None:
        record(happened)
    return old
