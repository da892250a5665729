"""Reads of the back office: what waits for each role (the admin index) and the
one-page view of a user. Each is a fixed, small number of queries whatever the
amount of data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Min, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice

from accounts.models import SECURITY_CODES, AuditEvent, User
from accounts.selectors import (
    role_grant_requests_waiting,
    totp_enabled,
    user_withdrawal_cooloff_until,
)
from backoffice.models import LedgerVerification
from kyc.models import OPEN_STATUSES as KYC_OPEN_STATUSES
from kyc.models import KycCase, KycProfile, KycStatusEvent
from trading.models import Fill, Instrument, Order, OrderCommand
from wallet.models import (
    Account,
    Adjustment,
    Deposit,
    Hold,
    ReconciliationItem,
    Transfer,
    Withdrawal,
)
from wallet.selectors import Balance, balance_list

# Withdrawals waiting for an approver: requested, or first-approved above the
# second-approval threshold (wallet's own definition of the queue).
WITHDRAWAL_WAITING_STATUSES: tuple[str, ...] = Withdrawal.PENDING_STATUSES
ADJUSTMENT_WAITING_STATUSES: tuple[str, ...] = (Adjustment.Status.PENDING,)
# A pending command older than this means the matcher is not keeping up (the
# sweeper re-drives after TRADING_SWEEP_AFTER_SECONDS): shown as an alarm.
MATCHING_STUCK_AFTER = timedelta(minutes=1)
LEDGER_PERMISSION = "backoffice.view_ledgerverification"


# --- The admin index: what waits for whom ------------------------------------------


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    count: int
    oldest_at: datetime | None
    now: datetime
    url: str | None  # the filtered changelist, when the viewer may open it
    detail: str = ""
    alarm: bool = False

    @property
    def oldest_age(self) -> timedelta | None:
        return None if self.oldest_at is None else self.now - self.oldest_at


@dataclass(frozen=True)
class LedgerStatus:
    last: LedgerVerification | None
    now: datetime
    url: str | None

    @property
    def period_minutes(self) -> int:
        return settings.BACKOFFICE_LEDGER_VERIFY_MINUTES

    @property
    def stale(self) -> bool:
        """No run for two beat periods: the beat (or its worker) is not running."""
        period = timedelta(minutes=self.period_minutes)
        return self.last is None or self.now - self.last.finished_at > 2 * period

    @property
    def age(self) -> timedelta | None:
        return None if self.last is None else self.now - self.last.finished_at

    @property
    def failed(self) -> bool:
        return self.last is not None and not self.last.ok


@dataclass(frozen=True)
class OpsOverview:
    tiles: list[Tile]
    ledger: LedgerStatus


@dataclass(frozen=True)
class _TileSpec:
    key: str
    label: str
    see: tuple[str, ...]  # any of these permissions shows the tile
    link: str  # this one makes its number a link
    changelist: str  # admin URL name
    query: str
    read: Callable[[datetime], tuple[int, datetime | None, str, bool]]


def _count_oldest(queryset: QuerySet, column: str) -> tuple[int, datetime | None]:
    row = queryset.aggregate(n=Count("pk"), oldest=Min(column))
    return row["n"], row["oldest"]


def _kyc_queue(now: datetime):
    n, oldest = _count_oldest(
        KycCase.objects.filter(status__in=KYC_OPEN_STATUSES), "submitted_at"
    )
    return n, oldest, "", False


def _withdrawals(now: datetime):
    waiting = Withdrawal.objects.filter(status__in=WITHDRAWAL_WAITING_STATUSES)
    n, oldest = _count_oldest(waiting, "created_at")
    return n, oldest, "", False


def _adjustments(now: datetime):
    waiting = Adjustment.objects.filter(status__in=ADJUSTMENT_WAITING_STATUSES)
    n, oldest = _count_oldest(waiting, "created_at")
    return n, oldest, "", False


def _halted(now: datetime):
    rows = list(
        Instrument.objects.filter(status=Instrument.Status.HALTED)
        .order_by("symbol")
        .values_list("symbol", "updated_at")
    )
    oldest = min((at for _, at in rows), default=None)
    return len(rows), oldest, ", ".join(symbol for symbol, _ in rows), bool(rows)


def _owing(now: datetime):
    """Users whose refunded or disputed deposits were already spent: they owe,
    and may not trade or withdraw until repaid (wallet.queries.owes_sql)."""
    n, oldest = _count_oldest(
        Account.objects.filter(kind=Account.Kind.RECEIVABLE, balance__lt=0),
        "created_at",
    )
    return n, oldest, "", False


def _reconciliation(now: datetime):
    n, oldest = _count_oldest(
        ReconciliationItem.objects.filter(status=ReconciliationItem.Status.OPEN),
        "created_at",
    )
    return n, oldest, "", bool(n)


def _matching_backlog(now: datetime):
    n, oldest = _count_oldest(
        OrderCommand.objects.filter(processed_at__isnull=True), "created_at"
    )
    stuck = oldest is not None and now - oldest > MATCHING_STUCK_AFTER
    return n, oldest, "", stuck


def _role_grants(now: datetime):
    n, oldest = _count_oldest(role_grant_requests_waiting(), "created_at")
    return n, oldest, "", False


TILES: tuple[_TileSpec, ...] = (
    _TileSpec(
        key="kyc",
        label="KYC cases waiting",
        # Reviewers work the queue; whoever looks after users sees its size.
        see=("kyc.view_kyccase", "accounts.view_user"),
        link="kyc.view_kyccase",
        changelist="admin:kyc_kyccase_changelist",
        query="queue=waiting",
        read=_kyc_queue,
    ),
    _TileSpec(
        key="withdrawals",
        label="Withdrawals waiting",
        see=("wallet.view_withdrawal",),
        link="wallet.view_withdrawal",
        changelist="admin:wallet_withdrawal_changelist",
        query="status__in=" + ",".join(WITHDRAWAL_WAITING_STATUSES),
        read=_withdrawals,
    ),
    _TileSpec(
        key="adjustments",
        label="Adjustments waiting",
        see=("wallet.view_adjustment",),
        link="wallet.view_adjustment",
        changelist="admin:wallet_adjustment_changelist",
        query="status__in=" + ",".join(ADJUSTMENT_WAITING_STATUSES),
        read=_adjustments,
    ),
    _TileSpec(
        key="owing",
        label="Accounts restricted, owing after a refund or chargeback",
        see=("wallet.view_account",),
        link="wallet.view_account",
        changelist="admin:wallet_account_changelist",
        query="kind__exact=receivable&owing=1",
        read=_owing,
    ),
    _TileSpec(
        key="reconciliation",
        label="Payment provider differences to resolve",
        see=("wallet.view_reconciliationitem",),
        link="wallet.view_reconciliationitem",
        changelist="admin:wallet_reconciliationitem_changelist",
        query="status__exact=open",
        read=_reconciliation,
    ),
    _TileSpec(
        key="halted",
        label="Instruments halted",
        see=("trading.view_instrument",),
        link="trading.view_instrument",
        changelist="admin:trading_instrument_changelist",
        query=f"status__exact={Instrument.Status.HALTED}",
        read=_halted,
    ),
    _TileSpec(
        key="matching",
        label="Commands waiting for the matcher",
        see=("trading.view_ordercommand",),
        link="trading.view_ordercommand",
        changelist="admin:trading_ordercommand_changelist",
        query="processed_at__isempty=1",
        read=_matching_backlog,
    ),
    _TileSpec(
        key="role_grants",
        label="Role grants waiting for a second administrator",
        see=("accounts.grant_role",),
        link="accounts.view_rolegrantrequest",
        changelist="admin:accounts_rolegrantrequest_changelist",
        query="status__exact=requested",
        read=_role_grants,
    ),
)


def ledger_verification_last() -> LedgerVerification | None:
    return LedgerVerification.objects.select_related("requested_by").first()


def ops_overview(*, user: User, now: datetime | None = None) -> OpsOverview:
    """The tiles this member of staff may see, each one aggregate query, and the
    last ledger verification (shown to all staff). One query per visible tile plus
    one, after the user's permissions (cached on the user by the admin)."""
    now = now or timezone.now()
    tiles = []
    for spec in TILES:
        if not any(user.has_perm(perm) for perm in spec.see):
            continue
        count, oldest, detail, alarm = spec.read(now)
        url = None
        if user.has_perm(spec.link):
            url = f"{reverse(spec.changelist)}?{spec.query}"
        tiles.append(
            Tile(
                key=spec.key,
                label=spec.label,
                count=count,
                oldest_at=oldest,
                now=now,
                url=url,
                detail=detail,
                alarm=alarm,
            )
        )
    ledger_url = None
    if user.has_perm(LEDGER_PERMISSION):
        ledger_url = reverse("admin:backoffice_ledgerverification_changelist")
    return OpsOverview(
        tiles=tiles,
        ledger=LedgerStatus(last=ledger_verification_last(), now=now, url=ledger_url),
    )


# --- The user page ------------------------------------------------------------------

USER_PAGE_ROWS = 20


def staff_actions_q(*, user: User) -> Q:
    """Audit events that are staff actions on `user`: every back-office code
    (9xx) about them, and any other event about them that someone else did (KYC
    decisions and document views, withdrawal and adjustment decisions, operator
    cancels, ...). The user's own doings and system events are not."""
    return Q(user=user) & (
        Q(code__gte=900) | (Q(acting_user__isnull=False) & ~Q(acting_user=user))
    )


@dataclass
class UserPage:
    user: User
    roles: list[str]
    authenticator: bool
    backup_codes: bool
    withdrawal_cooloff_until: datetime | None
    kyc_profile: KycProfile | None
    kyc_cases: list[KycCase]
    kyc_events: list[KycStatusEvent]
    balances: list[Balance]
    holds: list[Hold]
    open_orders: list[Order]
    fills: list[Fill]
    deposits: list[Deposit]
    withdrawals: list[Withdrawal]
    transfers: list[Transfer]
    security_events: list[AuditEvent]
    staff_actions: list[AuditEvent]
    rows: int = field(default=USER_PAGE_ROWS)


def user_page_get(*, user: User, rows: int = USER_PAGE_ROWS) -> UserPage:
    """Everything support and operators look at about one user, each list the
    newest `rows`. Eighteen queries, whatever the amount of history."""
    newest = ("-created_at", "-id")
    return UserPage(
        user=user,
        roles=sorted(user.groups.values_list("name", flat=True)),
        authenticator=totp_enabled(user=user),
        backup_codes=StaticDevice.objects.filter(user=user, confirmed=True).exists(),
        withdrawal_cooloff_until=user_withdrawal_cooloff_until(user=user),
        kyc_profile=KycProfile.objects.filter(user=user).first(),
        kyc_cases=list(
            KycCase.objects.filter(profile__user=user)
            .select_related("claimed_by", "first_approved_by", "decided_by")
            .order_by("-number")[:rows]
        ),
        kyc_events=list(
            KycStatusEvent.objects.filter(case__profile__user=user)
            .select_related("actor", "document", "case")
            .order_by(*newest)[:rows]
        ),
        balances=[b for b in balance_list(user=user) if b.available or b.held],
        holds=list(
            Hold.objects.filter(user=user, status=Hold.Status.PENDING)
            .select_related("asset")
            .order_by(*newest)[:rows]
        ),
        open_orders=list(
            Order.objects.filter(user=user, status__in=Order.OPEN_STATUSES)
            .select_related("instrument__base", "instrument__quote")
            .order_by(*newest)[:rows]
        ),
        fills=list(
            Fill.objects.filter(user=user)
            .select_related("instrument__base", "instrument__quote", "fee_asset")
            .order_by(*newest)[:rows]
        ),
        deposits=list(
            Deposit.objects.filter(user=user)
            .select_related("asset")
            .order_by(*newest)[:rows]
        ),
        withdrawals=list(
            Withdrawal.objects.filter(user=user)
            .select_related("asset", "decided_by")
            .order_by(*newest)[:rows]
        ),
        transfers=list(
            Transfer.objects.filter(Q(sender=user) | Q(recipient=user))
            .select_related("asset", "sender", "recipient")
            .order_by(*newest)[:rows]
        ),
        security_events=list(
            AuditEvent.objects.filter(user=user, code__in=SECURITY_CODES)
            .select_related("acting_user")
            .order_by(*newest)[:rows]
        ),
        staff_actions=list(
            AuditEvent.objects.filter(staff_actions_q(user=user))
            .select_related("acting_user")
            .order_by(*newest)[:rows]
        ),
        rows=rows,
    )


# --- Figures for Prometheus (config/metrics.py), read at each scrape --------------
# Each is one aggregate query; config/subscribers.py attaches them to their gauges.

MetricRows = list[tuple[tuple[str, ...], float]]
WITHDRAWAL_OUTSTANDING_STATUSES: tuple[str, ...] = (
    *WITHDRAWAL_WAITING_STATUSES,
    Withdrawal.Status.APPROVED,  # approved, not yet sent to the payout rail
)


def _age(now: datetime, oldest: datetime | None) -> float:
    return 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())


def metrics_order_commands() -> tuple[MetricRows, MetricRows]:
    """(pending commands, age of the oldest in seconds) per instrument: every
    instrument, 0 when nothing waits."""
    now = timezone.now()
    waiting = {
        row["instrument_id"]: row
        for row in OrderCommand.objects.filter(processed_at__isnull=True)
        .values("instrument_id")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
        .order_by()
    }
    pending: MetricRows = []
    ages: MetricRows = []
    for pk, symbol in Instrument.objects.order_by("symbol").values_list("pk", "symbol"):
        row = waiting.get(pk)
        pending.append(((symbol,), float(row["n"] if row else 0)))
        ages.append(((symbol,), _age(now, row["oldest"] if row else None)))
    return pending, ages


def metrics_holds() -> tuple[MetricRows, MetricRows]:
    """(remaining amount in smallest units, count) of pending holds per asset."""
    rows = (
        Hold.objects.filter(status=Hold.Status.PENDING)
        .values("asset__code")
        .annotate(total=Sum("remaining_amount"), n=Count("pk"))
        .order_by("asset__code")
    )
    amounts: MetricRows = []
    counts: MetricRows = []
    for row in rows:
        amounts.append(((row["asset__code"],), float(row["total"] or 0)))
        counts.append(((row["asset__code"],), float(row["n"])))
    return amounts, counts


def metrics_kyc_queue() -> tuple[MetricRows, MetricRows]:
    """(open cases by status, age of the oldest open case)."""
    now = timezone.now()
    counts = dict(
        KycCase.objects.filter(status__in=KYC_OPEN_STATUSES)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    oldest = KycCase.objects.filter(status__in=KYC_OPEN_STATUSES).aggregate(
        oldest=Min("submitted_at")
    )["oldest"]
    by_status: MetricRows = [
        ((str(status),), float(counts.get(status, 0))) for status in KYC_OPEN_STATUSES
    ]
    return by_status, [((), _age(now, oldest))]


def metrics_withdrawals() -> tuple[MetricRows, MetricRows]:
    """(withdrawals waiting by status, age of the oldest one)."""
    now = timezone.now()
    waiting = Withdrawal.objects.filter(status__in=WITHDRAWAL_OUTSTANDING_STATUSES)
    counts = dict(waiting.values_list("status").annotate(n=Count("pk")).order_by())
    oldest = waiting.aggregate(oldest=Min("created_at"))["oldest"]
    by_status: MetricRows = [
        ((str(status),), float(counts.get(status, 0)))
        for status in WITHDRAWAL_OUTSTANDING_STATUSES
    ]
    return by_status, [((), _age(now, oldest))]


def metrics_ledger_verification() -> tuple[MetricRows, MetricRows, MetricRows]:
    """(ok, problems, finished at) of the last verify_ledger run; nothing before
    the first."""
    last = LedgerVerification.objects.only("ok", "problem_count", "finished_at").first()
    if last is None:
        return [], [], []
    return (
        [((), 1.0 if last.ok else 0.0)],
        [((), float(last.problem_count))],
        [((), last.finished_at.timestamp())],
    )
