"""The reports in the back office: each a read-only changelist of its report
table with date filters, a chart of the filtered series (inline SVG rendered
here) and a CSV download of the filtered rows. Nothing here aggregates the source
tables: the pages read report rows only (built by `reports.services`)."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Generic, TypeVar

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Sum
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path, reverse

from accounts.admin import ReadOnlyAdminMixin
from reports.charts import Series, svg_chart
from reports.models import (
    DailyFunding,
    DailyKyc,
    DailySignups,
    DailyTrading,
    ReportWatermark,
)
from reports.services import WATERMARK
from wallet.money import format_units

_Report = TypeVar("_Report", bound=Model)

# Today, the past 7 days, this month, this year (with the drill-down above the rows)
DAY_FILTER = ("day", admin.DateFieldListFilter)
# The chart shows at most this many days (the newest of the filtered rows).
CHART_DAYS = 92


class _Echo:
    """A file-like object whose write returns the line (for streaming CSV)."""

    def write(self, value: str) -> str:
        return value


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _recent(queryset):
    """The filtered rows of the newest CHART_DAYS days that have rows."""
    latest = queryset.order_by("-day").values_list("day", flat=True).first()
    if latest is None:
        return queryset.none()
    return queryset.filter(day__gt=latest - timedelta(days=CHART_DAYS))


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class ReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin, Generic[_Report]):
    """A report table: read-only, filtered by day, charted and exported."""

    change_list_template = "admin/reports/change_list.html"
    date_hierarchy = "day"
    list_per_page = 100
    show_full_result_count = False
    # (header, value of a row as text) for the CSV, in column order
    csv_columns: tuple[tuple[str, Callable[[_Report], object]], ...] = ()
    csv_name = "report"
    # Each report defines `chart(queryset) -> SafeString`: the filtered series as an
    # inline SVG (reports.charts).

    def get_actions(self, request):
        return {}

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_csv),
                name="{}_{}_export".format(*info),
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            info = self.opts.app_label, self.opts.model_name
            context["csv_url"] = reverse("admin:{}_{}_export".format(*info))
            context["chart"] = self.chart(context["cl"].queryset)
            context["built"] = ReportWatermark.objects.filter(name=WATERMARK).first()
        return response

    def export_csv(self, request):
        """The filtered rows (the changelist's filters and order) as CSV, a header
        row first, amounts as decimal strings."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.get_changelist_instance(request).queryset
        except IncorrectLookupParameters as error:
            given = ", ".join(
                f"{key}={request.GET[key]}" for key in sorted(request.GET)
            )
            return HttpResponseBadRequest(
                f"Bad filter in {given}: {error}",
                content_type="text/plain; charset=utf-8",
            )
        writer = csv.writer(_Echo())

        def rows() -> Iterator[str]:
            yield writer.writerow([header for header, _ in self.csv_columns])
            for row in queryset.iterator(chunk_size=2000):
                yield writer.writerow([value(row) for _, value in self.csv_columns])

        response = StreamingHttpResponse(rows(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{self.csv_name}.csv"'
        return response


@admin.register(DailyTrading)
class DailyTradingAdmin(ReportAdmin[DailyTrading]):
    list_display = (
        "day",
        "instrument",
        "trade_count",
        "volume_display",
        "notional_display",
        "fees_base_display",
        "fees_quote_display",
    )
    list_filter = (DAY_FILTER, "instrument")
    list_select_related = ("instrument__base", "instrument__quote")
    csv_name = "daily-trading"
    csv_columns = (
        ("day", lambda r: r.day.isoformat()),
        ("instrument", lambda r: r.instrument.symbol),
        ("trades", lambda r: r.trade_count),
        ("volume", lambda r: format_units(r.volume, r.instrument.base.decimals)),
        ("volume_asset", lambda r: r.instrument.base.code),
        ("notional", lambda r: format_units(r.notional, r.instrument.quote.decimals)),
        ("notional_asset", lambda r: r.instrument.quote.code),
        ("fees_base", lambda r: format_units(r.fees_base, r.instrument.base.decimals)),
        (
            "fees_quote",
            lambda r: format_units(r.fees_quote, r.instrument.quote.decimals),
        ),
    )

    @admin.display(description="Volume (base)", ordering="volume")
    def volume_display(self, obj):
        base = obj.instrument.base
        return f"{format_units(obj.volume, base.decimals)} {base.code}"

    @admin.display(description="Notional (quote)", ordering="notional")
    def notional_display(self, obj):
        quote = obj.instrument.quote
        return f"{format_units(obj.notional, quote.decimals)} {quote.code}"

    @admin.display(description="Fees in base", ordering="fees_base")
    def fees_base_display(self, obj):
        base = obj.instrument.base
        return f"{format_units(obj.fees_base, base.decimals)} {base.code}"

    @admin.display(description="Fees in quote", ordering="fees_quote")
    def fees_quote_display(self, obj):
        quote = obj.instrument.quote
        return f"{format_units(obj.fees_quote, quote.decimals)} {quote.code}"

    def chart(self, queryset):
        """Trades per day; with one instrument in the rows, its notional."""
        rows = list(
            _recent(queryset)
            .order_by()
            .values("day", "instrument__symbol", "instrument__quote__decimals")
            .annotate(trades=Sum("trade_count"), notional=Sum("notional"))
        )
        if not rows:
            return svg_chart(title="Trades per day", days=[], series=[])
        symbols = {row["instrument__symbol"] for row in rows}
        days = _days(min(r["day"] for r in rows), max(r["day"] for r in rows))
        if len(symbols) == 1:
            (symbol,) = symbols
            decimals = rows[0]["instrument__quote__decimals"]
            by_day = {row["day"]: row["notional"] for row in rows}
            return svg_chart(
                title=f"{symbol} notional per day",
                days=days,
                series=[Series("notional", [by_day.get(d, 0) for d in days])],
                bars=True,
                label=lambda units: format_units(units, decimals),
            )
        trades: dict[date, int] = defaultdict(int)
        for row in rows:
            trades[row["day"]] += row["trades"]
        return svg_chart(
            title="Trades per day (all instruments shown)",
            days=days,
            series=[Series("trades", [trades[d] for d in days])],
            bars=True,
        )


@admin.register(DailyFunding)
class DailyFundingAdmin(ReportAdmin[DailyFunding]):
    list_display = (
        "day",
        "asset",
        "deposit_count",
        "deposit_amount_display",
        "withdrawal_count",
        "withdrawal_amount_display",
    )
    list_filter = (DAY_FILTER, "asset")
    list_select_related = ("asset",)
    csv_name = "daily-deposits-withdrawals"
    csv_columns = (
        ("day", lambda r: r.day.isoformat()),
        ("asset", lambda r: r.asset.code),
        ("deposits", lambda r: r.deposit_count),
        ("deposit_amount", lambda r: format_units(r.deposit_amount, r.asset.decimals)),
        ("withdrawals", lambda r: r.withdrawal_count),
        (
            "withdrawal_amount",
            lambda r: format_units(r.withdrawal_amount, r.asset.decimals),
        ),
    )

    @admin.display(description="Deposited", ordering="deposit_amount")
    def deposit_amount_display(self, obj):
        return f"{format_units(obj.deposit_amount, obj.asset.decimals)} {obj.asset}"

    @admin.display(description="Paid out", ordering="withdrawal_amount")
    def withdrawal_amount_display(self, obj):
        return f"{format_units(obj.withdrawal_amount, obj.asset.decimals)} {obj.asset}"

    def chart(self, queryset):
        """Deposits and withdrawals per day: amounts with one asset in the rows,
        counts otherwise."""
        rows = list(
            _recent(queryset)
            .order_by()
            .values(
                "day",
                "asset__code",
                "asset__decimals",
                "deposit_count",
                "deposit_amount",
                "withdrawal_count",
                "withdrawal_amount",
            )
        )
        if not rows:
            return svg_chart(title="Deposits and withdrawals", days=[], series=[])
        days = _days(min(r["day"] for r in rows), max(r["day"] for r in rows))
        codes = {row["asset__code"] for row in rows}
        one_asset = len(codes) == 1
        field = "amount" if one_asset else "count"
        sums: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
        for row in rows:
            for kind in ("deposit", "withdrawal"):
                sums[kind][row["day"]] += row[f"{kind}_{field}"]
        series = [
            Series("deposits", [sums["deposit"][d] for d in days]),
            Series("withdrawals", [sums["withdrawal"][d] for d in days]),
        ]
        if one_asset:
            (code,) = codes
            decimals = rows[0]["asset__decimals"]
            return svg_chart(
                title=f"{code} deposited and paid out per day",
                days=days,
                series=series,
                label=lambda units: format_units(units, decimals),
            )
        return svg_chart(
            title="Deposits and withdrawals per day (count, all assets)",
            days=days,
            series=series,
        )


@admin.register(DailyKyc)
class DailyKycAdmin(ReportAdmin[DailyKyc]):
    list_display = (
        "day",
        "submitted",
        "approved",
        "rejected",
        "resubmission_requested",
        "median_decision",
    )
    list_filter = (DAY_FILTER,)
    csv_name = "daily-kyc-funnel"
    csv_columns = (
        ("day", lambda r: r.day.isoformat()),
        ("submitted", lambda r: r.submitted),
        ("approved", lambda r: r.approved),
        ("rejected", lambda r: r.rejected),
        ("resubmission_requested", lambda r: r.resubmission_requested),
        (
            "median_decision_seconds",
            lambda r: (
                "" if r.median_decision_seconds is None else r.median_decision_seconds
            ),
        ),
    )

    @admin.display(
        description="Median time to decision", ordering="median_decision_seconds"
    )
    def median_decision(self, obj):
        return _duration(obj.median_decision_seconds) or "—"

    def chart(self, queryset):
        rows = list(
            _recent(queryset)
            .order_by("day")
            .values(
                "day", "submitted", "approved", "rejected", "resubmission_requested"
            )
        )
        days = [row["day"] for row in rows]
        return svg_chart(
            title="KYC funnel per day",
            days=days,
            series=[
                Series(column.replace("_", " "), [row[column] for row in rows])
                for column in (
                    "submitted",
                    "approved",
                    "rejected",
                    "resubmission_requested",
                )
            ],
        )


@admin.register(DailySignups)
class DailySignupsAdmin(ReportAdmin[DailySignups]):
    list_display = ("day", "new_users")
    list_filter = (DAY_FILTER,)
    csv_name = "daily-new-users"
    csv_columns = (
        ("day", lambda r: r.day.isoformat()),
        ("new_users", lambda r: r.new_users),
    )

    def chart(self, queryset):
        rows = list(_recent(queryset).order_by("day").values("day", "new_users"))
        return svg_chart(
            title="New users per day",
            days=[row["day"] for row in rows],
            series=[Series("new users", [row["new_users"] for row in rows])],
            bars=True,
        )
