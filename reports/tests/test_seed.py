"""`make run`'s demo data comes with built reports."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Sum

from accounts.models import User
from reports.models import DailyFunding, DailySignups
from wallet.models import Deposit

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_the_reports_from_the_demo_deposits():
    with time_machine.travel(datetime(2026, 3, 2, 9, tzinfo=UTC), tick=False):
        out = io.StringIO()
        call_command("seed_demo", stdout=out)
        call_command("seed_demo", stdout=io.StringIO())  # again: nothing new

    # the demo users are funded through real deposits, credited on seeding
    # (alice and bob 100,000.00 USD each, and the apps' other demo users)
    credited = Deposit.objects.filter(status="credited", asset__code="USD")
    demo = ["alice@example.com", "bob@example.com"]
    assert credited.filter(user__email__in=demo, amount=100_000_00).count() == 2
    assert list(
        DailyFunding.objects.filter(asset__code="USD").values_list(
            "day", "deposit_count", "deposit_amount", "withdrawal_count"
        )
    ) == [
        (
            date(2026, 3, 2),
            credited.count(),
            credited.aggregate(total=Sum("amount"))["total"],
            0,
        )
    ]
    assert list(DailySignups.objects.values_list("day", "new_users")) == [
        (date(2026, 3, 2), User.objects.count())
    ]
    assert "Reports built for 2026-03-02..2026-03-02" in out.getvalue()
