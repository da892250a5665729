"""The aggregation queries behind the report tables: grouped reads of the other
apps' append-only history over a range of UTC days.

Every read is bounded by an index, so a build costs what happened in the days it
recomputes, not the size of the tables:

- tables with an index on their timestamp (KYC status events, ledger entries by
  account and time) are read by that index;
- tables without one (trades, deposit and withdrawal status changes, users) are
  append-only with ids that grow with their timestamp, so a day's rows form an id
  range. `_id_floor` finds the last id stamped before the range (walking the
  primary key backwards from the newest row, so it reads only the rows after that
  moment) and the grouped query scans ids above it. A row may commit a little
  after rows with higher ids; `REPORTS_LATE_ROW_MINUTES` is how late, and the
  floor is taken that much earlier.

Database-neutral (SQLite and PostgreSQL): days are `TruncDate(..., tzinfo=UTC)`.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Count, F, Min, Sum, Value
from django.db.models.functions import StrIndex, Substr, TruncDate

from accounts.models import User
from kyc.models import EventAction, KycStatusEvent
from trading.models import Instrument, Trade
from wallet.models import (
    Account,
    Deposit,
    DepositStatusChange,
    Entry,
    Journal,
    Withdrawal,
    WithdrawalStatusChange,
)

# A withdrawal counts as paid out on the day its history shows it entering one of
# these statuses: `completed`, the payout rail's confirmation (the money left the
# books at `sent`, but a `sent` payout may still fail and come back).
WITHDRAWAL_PAID_OUT_STATUSES: tuple[str, ...] = (Withdrawal.Status.COMPLETED,)
DEPOSIT_CREDITED_STATUSES: tuple[str, ...] = (Deposit.Status.CREDITED,)
# The matcher's settlement journals: `trade:<instrument id>:<seq>`.
TRADE_REFERENCE_PREFIX = "trade:"
# KYC decisions and the report column each one counts in.
KYC_DECISIONS: dict[str, str] = {
    EventAction.APPROVED: "approved",
    EventAction.REJECTED: "rejected",
    EventAction.RESUBMISSION_REQUESTED: "resubmission_requested",
}


@dataclass(frozen=True)
class Source:
    """An append-only table the reports read: new rows (ids above the watermark)
    mark their days for a rebuild."""

    name: str
    model: type[models.Model]
    stamp: str


SOURCES: tuple[Source, ...] = (
    Source("trade", Trade, "created_at"),
    Source("deposit_change", DepositStatusChange, "created_at"),
    Source("withdrawal_change", WithdrawalStatusChange, "created_at"),
    Source("kyc_event", KycStatusEvent, "created_at"),
    Source("user", User, "date_joined"),
)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _late_rows() -> timedelta:
    return timedelta(minutes=settings.REPORTS_LATE_ROW_MINUTES)


def _utc_day(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=UTC)


def _id_floor(model: type[models.Model], stamp: str, moment: datetime) -> int:
    """An id below every row stamped at or after `moment`: the last id stamped
    before `moment` less the late-row allowance (0 when there is none)."""
    floor = (
        model._default_manager.filter(**{f"{stamp}__lt": moment - _late_rows()})
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return floor or 0


def source_marks(last_ids: dict[str, int]) -> tuple[datetime | None, dict[str, int]]:
    """For each source, the oldest stamp among rows with an id above `last_ids`
    (an id range scan of the new rows) and the highest id now. Returns the oldest
    stamp over all sources (None when nothing is new) and the new high ids."""
    oldest: datetime | None = None
    high: dict[str, int] = {}
    for source in SOURCES:
        seen = int(last_ids.get(source.name, 0))
        row = source.model._default_manager.filter(pk__gt=seen).aggregate(
            first=Min(source.stamp), last=models.Max("pk")
        )
        high[source.name] = row["last"] or seen
        if row["first"] is not None and (oldest is None or row["first"] < oldest):
            oldest = row["first"]
    return oldest, high


def trading_by_day(start: date, end: date) -> dict[tuple[date, int], dict[str, int]]:
    """{(day, instrument id): columns} for trades on days start..end inclusive.
    Volume in base units, notional in quote units, fees from the ledger's fee
    postings of the trade journals, split by the instrument's base or quote."""
    since, until = day_start(start), day_start(end + timedelta(days=1))
    rows: dict[tuple[date, int], dict[str, int]] = {}
    instruments = {
        i.pk: i
        for i in Instrument.objects.only(
            "id", "symbol", "lot_size", "base_id", "quote_id"
        )
    }
    floor = _id_floor(Trade, "created_at", since)
    trades = (
        Trade.objects.filter(pk__gt=floor, created_at__gte=since, created_at__lt=until)
        .annotate(day=_utc_day("created_at"))
        .values("day", "instrument_id")
        .annotate(
            count=Count("id"), lots=Sum("quantity_lots"), notional=Sum("quote_amount")
        )
        .order_by()
    )
    for row in trades:
        instrument = instruments[row["instrument_id"]]
        rows[(row["day"], instrument.pk)] = {
            "trade_count": row["count"],
            "volume": row["lots"] * instrument.lot_size,
            "notional": row["notional"],
            "fees_base": 0,
            "fees_quote": 0,
        }
    for row in _trade_fees(since, until):
        instrument = instruments[int(row["instrument_id"])]
        columns = rows.setdefault(
            (row["day"], instrument.pk),
            {
                "trade_count": 0,
                "volume": 0,
                "notional": 0,
                "fees_base": 0,
                "fees_quote": 0,
            },
        )
        if row["asset_id"] == instrument.base_id:
            columns["fees_base"] += row["total"]
        elif row["asset_id"] == instrument.quote_id:
            columns["fees_quote"] += row["total"]
        else:
            raise ValueError(
                f"a {instrument.symbol} trade posted a fee in asset "
                f"{row['asset_id']}, neither its base nor its quote"
            )
    return rows


def _trade_fees(since: datetime, until: datetime):
    """Sums of the entries on the fee accounts posted by trade journals, per day,
    fee asset and the journal's instrument: the matcher's references are
    `trade:<instrument id>:<seq>`. Read through the (account, created_at) index of
    the few fee accounts."""
    fee_accounts = list(
        Account.objects.filter(owner__isnull=True, kind=Account.Kind.FEES).values_list(
            "pk", flat=True
        )
    )
    if not fee_accounts:
        return []
    after = Substr("journal__reference", len(TRADE_REFERENCE_PREFIX) + 1)
    return (
        Entry.objects.filter(
            account_id__in=fee_accounts,
            created_at__gte=since,
            created_at__lt=until,
            journal__kind=Journal.Kind.TRADE,
            journal__reference__startswith=TRADE_REFERENCE_PREFIX,
        )
        .annotate(
            day=_utc_day("created_at"),
            instrument_id=Substr(after, 1, StrIndex(after, Value(":")) - 1),
            asset_id=F("account__asset_id"),
        )
        .values("day", "instrument_id", "asset_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )


def funding_by_day(start: date, end: date) -> dict[tuple[date, int], dict[str, int]]:
    """{(day, asset id): columns}: deposits credited and withdrawals paid out on
    days start..end inclusive, by the day of that status change."""
    since, until = day_start(start), day_start(end + timedelta(days=1))
    empty = {
        "deposit_count": 0,
        "deposit_amount": 0,
        "withdrawal_count": 0,
        "withdrawal_amount": 0,
    }
    rows: dict[tuple[date, int], dict[str, int]] = {}
    for history, owner, statuses, prefix in (
        (DepositStatusChange, "deposit", DEPOSIT_CREDITED_STATUSES, "deposit"),
        (
            WithdrawalStatusChange,
            "withdrawal",
            WITHDRAWAL_PAID_OUT_STATUSES,
            "withdrawal",
        ),
    ):
        floor = _id_floor(history, "created_at", since)
        grouped = (
            history.objects.filter(
                pk__gt=floor,
                created_at__gte=since,
                created_at__lt=until,
                new_status__in=statuses,
            )
            .annotate(day=_utc_day("created_at"), asset_id=F(f"{owner}__asset_id"))
            .values("day", "asset_id")
            .annotate(count=Count("id"), amount=Sum(f"{owner}__amount"))
            .order_by()
        )
        for row in grouped:
            columns = rows.setdefault((row["day"], row["asset_id"]), dict(empty))
            columns[f"{prefix}_count"] = row["count"]
            columns[f"{prefix}_amount"] = row["amount"]
    return rows


def kyc_by_day(start: date, end: date) -> dict[date, dict[str, int | None]]:
    """{day: columns} for every day start..end inclusive: cases submitted, the
    decisions (approved, rejected, resubmission requested) and the lower median
    of the seconds from a decided case's submission to its decision. Read through
    the status events' created_at index."""
    since, until = day_start(start), day_start(end + timedelta(days=1))
    events = (
        KycStatusEvent.objects.filter(
            created_at__gte=since,
            created_at__lt=until,
            document__isnull=True,
            action__in=[EventAction.SUBMITTED, *KYC_DECISIONS],
        )
        .values_list("action", "created_at", "case__submitted_at")
        .order_by()
    )
    counts: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    waits: dict[date, list[int]] = defaultdict(list)
    for action, created_at, submitted_at in events:
        day = created_at.astimezone(UTC).date()
        if action == EventAction.SUBMITTED:
            counts[day]["submitted"] += 1
            continue
        counts[day][KYC_DECISIONS[action]] += 1
        waits[day].append(round((created_at - submitted_at).total_seconds()))
    rows: dict[date, dict[str, int | None]] = {}
    for day in days_between(start, end):
        rows[day] = {
            "submitted": counts[day]["submitted"],
            "approved": counts[day]["approved"],
            "rejected": counts[day]["rejected"],
            "resubmission_requested": counts[day]["resubmission_requested"],
            "median_decision_seconds": (
                statistics.median_low(waits[day]) if waits[day] else None
            ),
        }
    return rows


def signups_by_day(start: date, end: date) -> dict[date, dict[str, int]]:
    """{day: {"new_users": n}} for every day start..end inclusive."""
    since, until = day_start(start), day_start(end + timedelta(days=1))
    floor = _id_floor(User, "date_joined", since)
    joined = dict(
        User.objects.filter(pk__gt=floor, date_joined__gte=since, date_joined__lt=until)
        .annotate(day=_utc_day("date_joined"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("day", "n")
    )
    return {day: {"new_users": joined.get(day, 0)} for day in days_between(start, end)}


def first_activity_day() -> date | None:
    """The day of the oldest row of any source (by id, the primary key's first
    row: no scan), for a first build with no watermark."""
    stamps = []
    for source in SOURCES:
        stamp = (
            source.model._default_manager.order_by("pk")
            .values_list(source.stamp, flat=True)
            .first()
        )
        if stamp is not None:
            stamps.append(stamp)
    return min(stamps).astimezone(UTC).date() if stamps else None


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]
