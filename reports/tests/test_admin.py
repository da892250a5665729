"""The reports in the admin: who sees them, that nobody writes them, the CSV,
the chart, and that the page reads report rows only."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from accounts.testing import admin_client_for, make_user
from reports.models import DailyFunding, DailyKyc, DailySignups, DailyTrading
from reports.services import reports_build
from reports.tests.conftest import DAY2, at

pytestmark = pytest.mark.django_db

REPORTS = (DailyTrading, DailyFunding, DailyKyc, DailySignups)
# Tables the report pages must never read: the sources of the reports.
SOURCE_TABLES = (
    "trading_trade",
    "wallet_entry",
    "wallet_journal",
    "wallet_depositstatuschange",
    "wallet_withdrawalstatuschange",
    "kyc_kycstatusevent",
    'accounts_user" WHERE "accounts_user"."date_joined',
)


def changelist(model) -> str:
    return reverse(f"admin:reports_{model._meta.model_name}_changelist")


def export(model) -> str:
    return reverse(f"admin:reports_{model._meta.model_name}_export")


@pytest.fixture
def built(activity):
    with at(DAY2, 18):
        reports_build()
    return activity


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.SUPPORT])
def test_operators_and_support_see_every_report_and_its_csv(built, role):
    client = admin_client_for(make_user(roles=(role,), is_staff=True))
    for model in REPORTS:
        page = client.get(changelist(model))
        assert page.status_code == 200, model
        assert b'<svg xmlns="http://www.w3.org/2000/svg"' in page.content
        assert export(model).encode() in page.content
        assert client.get(export(model)).status_code == 200


def test_a_reviewer_sees_no_report(built):
    client = admin_client_for(built.reviewer)
    for model in REPORTS:
        assert client.get(changelist(model)).status_code == 403
        assert client.get(export(model)).status_code == 403


def test_nobody_adds_changes_or_deletes_report_rows(built):
    # not even a superuser
    root = make_user(is_staff=True, is_superuser=True)
    client = admin_client_for(root)
    request = type("Request", (), {"user": root})()
    for model in REPORTS:
        model_admin = admin.site._registry[model]
        row = model.objects.order_by("pk").first()
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request, row)
        assert not model_admin.has_delete_permission(request, row)
        name = model._meta.model_name
        assert client.get(reverse(f"admin:reports_{name}_add")).status_code == 403
        change = reverse(f"admin:reports_{name}_change", args=[row.pk])
        assert client.post(change, {"day": "2020-01-01"}).status_code == 403
        delete = reverse(f"admin:reports_{name}_delete", args=[row.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
        assert model.objects.filter(pk=row.pk).exists()
    assert DailySignups.objects.get(day=DAY2).new_users == 1


def test_the_csv_has_the_filtered_rows_with_decimal_amounts(built):
    client = admin_client_for(built.operator)

    trading = client.get(export(DailyTrading))
    assert trading["Content-Type"] == "text/csv"
    assert trading["Content-Disposition"] == 'attachment; filename="daily-trading.csv"'
    assert b"".join(trading.streaming_content).decode().splitlines() == [
        "day,instrument,trades,volume,volume_asset,notional,notional_asset,"
        "fees_base,fees_quote",
        "2026-03-03,BTC-USD,1,0.20000000,BTC,19000.00,USD,0.00040000,19.00",
        "2026-03-02,BTC-USD,1,0.30000000,BTC,28500.00,USD,0.00060000,28.50",
    ]

    # the changelist's filters apply: one asset, one day
    funding = client.get(
        export(DailyFunding),
        {
            "asset__id__exact": built.usd.pk,
            "day__year": "2026",
            "day__month": "3",
            "day__day": "3",
        },
    )
    assert b"".join(funding.streaming_content).decode().splitlines() == [
        "day,asset,deposits,deposit_amount,withdrawals,withdrawal_amount",
        "2026-03-03,USD,1,250.00,0,0.00",
    ]

    # the quick day filter (here: this month) and the changelist's order
    kyc = client.get(
        export(DailyKyc),
        {"day__gte": "2026-03-01", "day__lt": "2026-04-01", "o": "0"},
    )
    assert b"".join(kyc.streaming_content).decode().splitlines() == [
        "day,submitted,approved,rejected,resubmission_requested,"
        "median_decision_seconds",
        "2026-03-02,3,2,1,0,10800",
        "2026-03-03,1,0,0,1,1800",
    ]


def test_a_csv_with_a_bad_filter_is_a_400_naming_it(built):
    client = admin_client_for(built.operator)
    response = client.get(export(DailySignups), {"day__year": "twenty"})
    assert response.status_code == 400
    assert response.content.decode() == (
        "Bad filter in day__year=twenty: invalid literal for int() with base 10:"
        " 'twenty'"
    )


def test_the_chart_shows_the_filtered_series(built):
    client = admin_client_for(built.operator)

    # one instrument in the rows: its notional per day, in USD
    page = client.get(changelist(DailyTrading)).content.decode()
    assert "BTC-USD notional per day" in page
    assert 'data-day="2026-03-02" data-value="2850000"' in page
    assert 'data-day="2026-03-03" data-value="1900000"' in page
    assert "<title>2026-03-02: 28500.00</title>" in page
    assert "Built 2026-03-03 18:00 UTC (2 days recomputed)" in page

    # several assets: counts of deposits and withdrawals per day
    page = client.get(changelist(DailyFunding)).content.decode()
    assert "Deposits and withdrawals per day (count, all assets)" in page
    assert 'data-series="deposits" data-day="2026-03-02" data-value="1"' in page
    assert 'data-series="withdrawals" data-day="2026-03-03" data-value="1"' in page

    page = client.get(changelist(DailySignups)).content.decode()
    assert 'data-day="2026-03-02" data-value="5"' in page
    assert 'data-day="2026-03-03" data-value="1"' in page


@pytest.mark.parametrize("model", REPORTS)
def test_the_changelist_reads_report_rows_only(built, model):
    client = admin_client_for(built.operator)
    client.get(changelist(model))  # warm the session and permission caches

    with CaptureQueriesContext(connection) as queries:
        assert client.get(changelist(model)).status_code == 200

    sql = [query["sql"] for query in queries.captured_queries]
    assert [s for s in sql if any(table in s for table in SOURCE_TABLES)] == []
    # session, user, OTP device, user and group permissions, the instrument or
    # asset filter's choices, count, page of rows, chart (newest day, series),
    # the watermark (when the reports were built),
    # date hierarchy (range, days)
    assert len(sql) == EXPECTED_QUERIES[model]


EXPECTED_QUERIES = {
    DailyTrading: 13,
    DailyFunding: 13,
    DailyKyc: 12,
    DailySignups: 12,
}
