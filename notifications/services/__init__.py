"""Every write of notifications: the outbox (`notify`), reading them, and the
user's preferences. Delivery attempts are in services/delivery.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from config.bulk import new_instance
from config.domain_errors import NotFound, Unprocessable
from marketdata.models import UserEvent
from marketdata.services import user_events_append
from notifications import catalogue
from notifications.catalogue import EMAIL, IN_APP
from notifications.channels import reachable, sender_for
from notifications.models import Delivery, Notification, Preference
from notifications.queries import rows_insert_new

_NOTIFICATION_FIELDS = (
    "user",
    "event_type",
    "key",
    "subject",
    "title",
    "body",
    "url",
    "data",
    "in_app",
    "created_at",
)
_DELIVERY_FIELDS = (
    "notification",
    "user",
    "key",
    "channel",
    "address",
    "status",
    "attempts",
    "next_attempt_at",
    "provider_reference",
    "provider_answer",
    "created_at",
)


@dataclass(frozen=True)
class Draft:
    """One notification to write: `key` names the occurrence (a repeat of the
    same key for the same user is ignored), `subject` what it is about."""

    user_id: int
    event_type: str
    key: str
    title: str
    body: str
    url: str = ""
    subject: str = ""
    data: Mapping[str, str] = field(default_factory=dict)
    # Other addresses that must hear of it by email too (an email change's old
    # address); each is a delivery of its own.
    also_email: tuple[str, ...] = ()


def preferences_for(
    *, user_ids: Iterable[int], event_types: Iterable[str]
) -> dict[tuple[int, str, str], bool]:
    """(user, event type, channel) -> enabled, for the choices users made."""
    rows = Preference.objects.filter(
        user_id__in=set(user_ids), event_type__in=set(event_types)
    ).values_list("user_id", "event_type", "channel", "enabled")
    return {(user, kind, channel): enabled for user, kind, channel, enabled in rows}


def channels_for(
    draft_user: int, event_type: str, chosen: Mapping[tuple[int, str, str], bool]
) -> set[str]:
    """The channels this occurrence goes to: the security channels for a
    security type, else the user's choices over the defaults."""
    spec = catalogue.event_type(event_type)
    if spec.security:
        return set(catalogue.SECURITY_CHANNELS)
    return {
        channel
        for channel in catalogue.CHANNELS
        if chosen.get(
            (draft_user, event_type, channel), channel in spec.default_channels
        )
    }


def _queue(delivery_ids: list[int]) -> None:
    from notifications.tasks import deliver_many

    for start in range(0, len(delivery_ids), 100):
        deliver_many.delay(delivery_ids[start : start + 100])


@transaction.atomic
def notify(*, drafts: Sequence[Draft]) -> list[Notification]:
    """Write the notifications and their deliveries in the caller's transaction
    (the outbox: they commit or roll back with the cause), put the in-app ones
    on the users' streams with their unread counts, and queue the deliveries
    after commit. A few statements whatever the number of drafts. Returns the
    notifications written (a draft whose key exists already is skipped)."""
    if not drafts:
        return []
    chosen = preferences_for(
        user_ids={d.user_id for d in drafts}, event_types={d.event_type for d in drafts}
    )
    now = timezone.now()
    wanted = [
        (draft, channels_for(draft.user_id, draft.event_type, chosen))
        for draft in drafts
    ]
    reach = _reach(wanted)
    planned: dict[tuple[int, str], tuple[Draft, set[str]]] = {}
    rows: list[Notification] = []
    for draft, channels in wanted:
        # a channel with no sender in this deployment (devices not installed,
        # or not configured), or none for this user (no phone, browser or
        # device), is not written at all
        outward = {c for c in channels - {IN_APP} if draft.user_id in reach[c]}
        if IN_APP not in channels and not outward:
            continue
        if (draft.user_id, draft.key) in planned:
            continue
        planned[(draft.user_id, draft.key)] = (draft, outward)
        rows.append(
            new_instance(
                Notification,
                user_id=draft.user_id,
                event_type=draft.event_type,
                key=draft.key,
                subject=draft.subject,
                title=draft.title[:200],
                body=draft.body,
                url=draft.url,
                data=dict(draft.data),
                in_app=IN_APP in channels,
                created_at=now,
                read_at=None,
            )
        )
    inserted = rows_insert_new(
        Notification,
        rows,
        fields=_NOTIFICATION_FIELDS,
        returning=("id", "user", "key"),
    )
    by_key = {(row.user_id, row.key): row for row in rows}
    written: list[Notification] = []
    deliveries: list[Delivery] = []
    for pk, user_id, key in inserted:
        notification = by_key[(user_id, key)]
        notification.pk = pk
        written.append(notification)
        draft, outward = planned[(user_id, key)]
        for channel in sorted(outward):
            deliveries.append(_delivery(notification, channel, key, "", now))
        if EMAIL in outward or catalogue.event_type(draft.event_type).security:
            for index, address in enumerate(draft.also_email):
                deliveries.append(
                    _delivery(notification, EMAIL, f"{key}:to{index}", address, now)
                )
    delivery_ids = [
        pk
        for (pk,) in rows_insert_new(
            Delivery, deliveries, fields=_DELIVERY_FIELDS, returning=("id",)
        )
    ]
    _stream(sorted((n for n in written if n.in_app), key=lambda n: n.pk))
    if delivery_ids:
        transaction.on_commit(partial(_queue, sorted(delivery_ids)), robust=True)
    return written


def _reach(wanted: list[tuple[Draft, set[str]]]) -> dict[str, set[int]]:
    """Per outward channel, the users it can reach among those who want it:
    one query per channel some draft goes to, whatever the number of drafts."""
    users: dict[str, set[int]] = {c: set() for c in catalogue.CHANNELS if c != IN_APP}
    for draft, channels in wanted:
        for channel in channels - {IN_APP}:
            users[channel].add(draft.user_id)
    return {
        channel: reachable(channel, ids) if ids and sender_for(channel) else set()
        for channel, ids in users.items()
    }


def _delivery(
    notification: Notification, channel: str, key: str, address: str, now
) -> Delivery:
    return new_instance(
        Delivery,
        notification_id=notification.pk,
        user_id=notification.user_id,
        key=key,
        channel=channel,
        address=address,
        status=Delivery.Status.PENDING,
        attempts=0,
        next_attempt_at=now,
        provider_reference="",
        provider_answer="",
        created_at=now,
        sent_at=None,
    )


def notification_message(notification: Notification) -> dict:
    """The item as the centre, the stream and the API show it."""
    return {
        "id": notification.pk,
        "event_type": notification.event_type,
        "title": notification.title,
        "body": notification.body,
        "url": notification.url,
        "data": notification.data,
        "created_at": notification.created_at.isoformat().replace("+00:00", "Z"),
        "read_at": (
            notification.read_at.isoformat().replace("+00:00", "Z")
            if notification.read_at
            else None
        ),
    }


def _unread_counts(user_ids: Iterable[int]) -> dict[int, int]:
    return dict(
        Notification.objects.filter(
            user_id__in=set(user_ids), in_app=True, read_at__isnull=True
        )
        .values("user_id")
        .annotate(n=Count("id"))
        .values_list("user_id", "n")
    )


def _stream(items: list[Notification], *, counts_only: Iterable[int] = ()) -> None:
    """`notification` events on the users' streams: each new item with the
    user's unread count, or (`counts_only`) just the count after a read."""
    users = {n.user_id for n in items} | set(counts_only)
    if not users:
        return
    unread = _unread_counts(users)
    events = [
        new_instance(
            UserEvent,
            user_id=n.user_id,
            type=UserEvent.Type.NOTIFICATION,
            data={
                "notification": notification_message(n),
                "unread": unread.get(n.user_id, 0),
            },
        )
        for n in items
    ]
    events += [
        new_instance(
            UserEvent,
            user_id=user_id,
            type=UserEvent.Type.NOTIFICATION,
            data={"notification": None, "unread": unread.get(user_id, 0)},
        )
        for user_id in sorted(set(counts_only))
    ]
    user_events_append(rows=events)


# --- Reading ------------------------------------------------------------------------


@transaction.atomic
def notification_mark_read(*, user, notification_id: int) -> Notification:
    notification = (
        Notification.objects.select_for_update()
        .filter(pk=notification_id, user=user, in_app=True)
        .first()
    )
    if notification is None:
        raise NotFound(
            "notification_not_found",
            "No such notification.",
            details={"id": [f"No notification {notification_id}."]},
        )
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        _stream([], counts_only=[user.pk])
    return notification


@transaction.atomic
def notification_mark_all_read(*, user) -> int:
    count = Notification.objects.filter(
        user=user, in_app=True, read_at__isnull=True
    ).update(read_at=timezone.now())
    if count:
        _stream([], counts_only=[user.pk])
    return count


# --- Preferences --------------------------------------------------------------------


@dataclass(frozen=True)
class PreferenceRow:
    event_type: catalogue.EventType
    channels: dict[str, bool]  # channel -> enabled
    locked: bool


def preference_grid(*, user) -> list[PreferenceRow]:
    chosen = preferences_for(user_ids=[user.pk], event_types=catalogue.BY_CODE)
    grid = []
    for spec in catalogue.TYPES:
        on = channels_for(user.pk, spec.code, chosen)
        grid.append(
            PreferenceRow(
                event_type=spec,
                channels={c: c in on for c in catalogue.CHANNELS},
                locked=spec.security,
            )
        )
    return grid


@transaction.atomic
def preferences_update(
    *, user, changes: Iterable[tuple[str, str, bool]]
) -> list[PreferenceRow]:
    """Set (event type, channel, enabled) choices. A security type cannot be
    changed (422 naming it); an unknown type or channel is a 422 too."""
    now = timezone.now()
    for event_type, channel, enabled in changes:
        spec = catalogue.BY_CODE.get(event_type)
        if spec is None:
            raise Unprocessable(
                "unknown_event_type",
                f"event_type: unknown event type {event_type!r}.",
                details={"event_type": [f"Unknown event type {event_type!r}."]},
            )
        if channel not in catalogue.CHANNELS:
            raise Unprocessable(
                "unknown_channel",
                f"channel: unknown channel {channel!r}.",
                details={"channel": [f"Unknown channel {channel!r}."]},
            )
        if spec.security:
            if enabled == (channel in catalogue.SECURITY_CHANNELS):
                continue  # what it is anyway
            raise Unprocessable(
                "security_notification_locked",
                f"{event_type}: security notices cannot be changed.",
                details={"event_type": [f"{event_type} is a security notice."]},
            )
        Preference.objects.update_or_create(
            user=user,
            event_type=event_type,
            channel=channel,
            defaults={"enabled": enabled, "updated_at": now},
        )
    return preference_grid(user=user)
