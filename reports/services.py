"""Writes of the reports app: building the report tables.

`reports_build` is the only writer of the report rows. It recomputes whole days
from the source history (`reports.queries`) and upserts them: a row is written
only when its numbers differ, so a build with nothing new changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from config.domain_errors import ApplicationError
from reports import queries
from reports.errors import ReportsErrorCode
from reports.models import (
    DailyFunding,
    DailyKyc,
    DailySignups,
    DailyTrading,
    ReportWatermark,
)

WATERMARK = "daily"


@dataclass(frozen=True)
class BuildResult:
    start: date
    end: date
    rows_written: int

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def reports_build(*, since: date | None = None) -> BuildResult:
    """Recompute the report days that can still change and upsert their rows.

    Without `since`, the days are: from the day of the previous build (less
    `REPORTS_LATE_ROW_MINUTES`, for rows that committed late), or from the day of
    the oldest source row newer than the previous build's ids, whichever is
    earlier, through today. The first build starts at the oldest source row.
    With `since` (a backfill), from that day through today.

    Safe to run twice and concurrently: builds take the watermark row's lock in
    turn, and a second build finds the same numbers and writes nothing."""
    now = timezone.now()
    today = now.astimezone(UTC).date()
    if since is not None and since > today:
        raise ApplicationError(
            ReportsErrorCode.INVALID_DATE,
            f"since: {since.isoformat()} is after today ({today.isoformat()}).",
            details={"since": ["A day on or before today (UTC)."]},
        )
    with transaction.atomic():
        ReportWatermark.objects.get_or_create(name=WATERMARK)
        watermark = ReportWatermark.objects.select_for_update().get(name=WATERMARK)
        oldest_new, high_ids = queries.source_marks(watermark.last_ids)
        if since is not None:
            start = since
        elif watermark.built_at is None:
            start = queries.first_activity_day() or today
        else:
            late = timedelta(minutes=settings.REPORTS_LATE_ROW_MINUTES)
            start = (watermark.built_at - late).astimezone(UTC).date()
            if oldest_new is not None:
                start = min(start, oldest_new.astimezone(UTC).date())
        start = min(start, today)
        written = _rebuild(start, today)
        watermark.built_at = now
        watermark.last_ids = high_ids
        watermark.days_built = (today - start).days + 1
        watermark.rows_written = written
        watermark.save()
    return BuildResult(start=start, end=today, rows_written=written)


def _rebuild(start: date, end: date) -> int:
    return (
        _sync(
            DailyTrading,
            ("day", "instrument_id"),
            queries.trading_by_day(start, end),
            start,
            end,
        )
        + _sync(
            DailyFunding,
            ("day", "asset_id"),
            queries.funding_by_day(start, end),
            start,
            end,
        )
        + _sync(
            DailyKyc,
            ("day",),
            {(day,): row for day, row in queries.kyc_by_day(start, end).items()},
            start,
            end,
        )
        + _sync(
            DailySignups,
            ("day",),
            {(day,): row for day, row in queries.signups_by_day(start, end).items()},
            start,
            end,
        )
    )


def _sync(
    model: type[models.Model],
    key_fields: tuple[str, ...],
    computed: dict[tuple, dict],
    start: date,
    end: date,
) -> int:
    """Make the rows of days start..end equal `computed`: add the missing ones,
    update the ones whose numbers differ, remove the ones no longer there.
    Returns how many rows were written."""
    existing = {
        tuple(getattr(row, field) for field in key_fields): row
        for row in model._default_manager.filter(day__gte=start, day__lte=end)
    }
    now = timezone.now()
    added, changed, fields = [], [], set[str]()
    for key, values in computed.items():
        row = existing.pop(key, None)
        if row is None:
            added.append(
                model(
                    **dict(zip(key_fields, key, strict=True)), **values, updated_at=now
                )
            )
            continue
        differ = {f: value for f, value in values.items() if getattr(row, f) != value}
        if differ:
            for field, value in {**differ, "updated_at": now}.items():
                setattr(row, field, value)
            fields.update(differ)
            changed.append(row)
    if added:
        model._default_manager.bulk_create(added)
    if changed:
        model._default_manager.bulk_update(changed, [*sorted(fields), "updated_at"])
    if existing:
        model._default_manager.filter(
            pk__in=[row.pk for row in existing.values()]
        ).delete()
    return len(added) + len(changed) + len(existing)
