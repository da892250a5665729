"""Building the report tables from two days of real activity."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from accounts.testing import make_user
from config.errors import ApplicationError
from kyc.testing import make_verified_user
from reports.models import (
    DailyFunding,
    DailyKyc,
    DailySignups,
    DailyTrading,
    ReportWatermark,
)
from reports.queries import WITHDRAWAL_PAID_OUT_STATUSES
from reports.services import reports_build
from reports.tests.conftest import BTC, DAY1, DAY2, USD, at
from trading.models import Trade
from trading.services import instrument_create, order_place
from trading.tests.helpers import fund, make_btc_usd, match
from wallet.models import Withdrawal
from wallet.tests.helpers import make_asset

pytestmark = pytest.mark.django_db


def trading_rows():
    return list(
        DailyTrading.objects.order_by("day").values_list(
            "day",
            "instrument__symbol",
            "trade_count",
            "volume",
            "notional",
            "fees_base",
            "fees_quote",
        )
    )


def funding_rows():
    return list(
        DailyFunding.objects.order_by("day", "asset__code").values_list(
            "day",
            "asset__code",
            "deposit_count",
            "deposit_amount",
            "withdrawal_count",
            "withdrawal_amount",
        )
    )


def kyc_rows():
    return list(
        DailyKyc.objects.order_by("day").values_list(
            "day",
            "submitted",
            "approved",
            "rejected",
            "resubmission_requested",
            "median_decision_seconds",
        )
    )


def signup_rows():
    return list(DailySignups.objects.order_by("day").values_list("day", "new_users"))


DAY1_TRADING = (DAY1, "BTC-USD", 1, 30 * BTC // 100, 28_500 * USD, 60_000, 28_50)
DAY2_TRADING = (DAY2, "BTC-USD", 1, 20 * BTC // 100, 19_000 * USD, 40_000, 19_00)


def test_the_first_build_writes_exact_numbers_for_both_days(activity):
    # given two days of activity; when the beat builds on the evening of day 2
    with at(DAY2, 18):
        result = reports_build()

    # then it started at the oldest source row and wrote every row
    assert (result.start, result.end, result.days) == (DAY1, DAY2, 2)
    # 0.3 BTC at 95,000 = 28,500.00 USD; the buyer (taker, 0.20%) paid 0.0006 BTC,
    # the seller (maker, 0.10%) 28.50 USD. Then 0.2 BTC: 19,000.00 USD,
    # 0.0004 BTC and 19.00 USD.
    assert trading_rows() == [DAY1_TRADING, DAY2_TRADING]
    # the fee columns are the ledger's fee postings, equal to the trades' fees
    assert [(t.buyer_fee, t.seller_fee) for t in Trade.objects.order_by("pk")] == [
        (60_000, 28_50),
        (40_000, 19_00),
    ]
    # deposits by the day they were credited, withdrawals by the day paid out
    assert funding_rows() == [
        (DAY1, "USD", 1, 5_000 * USD, 1, 1_000 * USD),
        (DAY2, "BTC", 0, 0, 1, BTC // 10),
        (DAY2, "USD", 1, 250 * USD, 0, 0),
    ]
    # day 1: decisions 1 h, 3 h and 4 h after submission (lower median 3 h);
    # day 2: a resubmission asked 30 minutes after submission
    assert kyc_rows() == [
        (DAY1, 3, 2, 1, 0, 3 * 3600),
        (DAY2, 1, 0, 0, 1, 30 * 60),
    ]
    assert signup_rows() == [(DAY1, 5), (DAY2, 1)]
    assert result.rows_written == 2 + 3 + 2 + 2
    watermark = ReportWatermark.objects.get()
    assert (watermark.days_built, watermark.rows_written) == (2, 9)


def test_building_twice_changes_nothing(activity):
    with at(DAY2, 18):
        reports_build()
    before = {
        model: list(model.objects.order_by("pk").values())
        for model in (DailyTrading, DailyFunding, DailyKyc, DailySignups)
    }

    # when the beat runs again (a redelivered task, or the next tick)
    with at(DAY2, 18, 5):
        result = reports_build()

    # then it recomputed today and wrote nothing: not even updated_at moved
    assert (result.start, result.rows_written) == (DAY2, 0)
    after = {
        model: list(model.objects.order_by("pk").values())
        for model in (DailyTrading, DailyFunding, DailyKyc, DailySignups)
    }
    assert after == before


def test_a_later_trade_on_the_same_day_updates_that_day_only(activity):
    with at(DAY2, 18):
        reports_build()
    day1 = DailyTrading.objects.get(day=DAY1)

    # given a new trade later on day 2: 0.1 BTC at 95,500
    with at(DAY2, 19):
        order_place(
            user=activity.seller,
            symbol="BTC-USD",
            side="sell",
            price="95500",
            quantity="0.1",
        )
        match(activity.instrument)
        order_place(
            user=activity.buyer,
            symbol="BTC-USD",
            side="buy",
            price="95500",
            quantity="0.1",
        )
        match(activity.instrument)

    # when the beat builds again
    with at(DAY2, 19, 5):
        result = reports_build()

    # then only day 2 was recomputed, and only its trading row changed: one more
    # trade, 0.1 BTC, 9,550.00 USD, fees 0.0002 BTC (taker) and 9.55 USD (maker)
    assert (result.start, result.rows_written) == (DAY2, 1)
    assert trading_rows() == [
        DAY1_TRADING,
        (DAY2, "BTC-USD", 2, 30 * BTC // 100, 28_550 * USD, 60_000, 19_00 + 9_55),
    ]
    unchanged = DailyTrading.objects.get(day=DAY1)
    assert unchanged.updated_at == day1.updated_at


def test_a_late_row_dated_on_an_earlier_day_rebuilds_that_day(activity):
    with at(DAY2, 18):
        reports_build()
    # given a row that arrives after the build but is dated day 1 (an import)
    with at(DAY1, 20):
        make_user(email="late@example.com")

    # when the next build runs on day 2
    with at(DAY2, 18, 5):
        result = reports_build()

    # then it went back to day 1 for it
    assert (result.start, result.rows_written) == (DAY1, 1)
    assert signup_rows() == [(DAY1, 6), (DAY2, 1)]


def test_the_next_day_recomputes_the_last_complete_day_and_today(activity):
    with at(DAY2, 23, 55):
        reports_build()

    # when the first build of day 3 runs
    with at(date(2026, 3, 4), 0, 5):
        result = reports_build()

    # then it looked back at day 2 (late rows) and gave day 3 its zero rows
    assert (result.start, result.end) == (DAY2, date(2026, 3, 4))
    assert result.rows_written == 2  # day 3's KYC and sign-up rows, all zero
    assert signup_rows()[-1] == (date(2026, 3, 4), 0)
    assert kyc_rows()[-1] == (date(2026, 3, 4), 0, 0, 0, 0, None)


def test_build_reports_command_backfills_from_a_day(activity):
    with at(DAY2, 18):
        reports_build()
    DailyTrading.objects.filter(day=DAY1).delete()

    with at(DAY2, 18, 5):
        call_command(
            "build_reports", "--since", "2026-03-02", stdout=(out := io.StringIO())
        )

    assert out.getvalue() == (
        "Reports built for 2026-03-02..2026-03-03 (2 day(s)), 1 row(s) written.\n"
    )
    assert trading_rows() == [DAY1_TRADING, DAY2_TRADING]


def test_build_reports_refuses_a_bad_or_future_day(db):
    with pytest.raises(CommandError, match="'yesterday' is not a date"):
        call_command("build_reports", "--since", "yesterday")
    with at(DAY1, 12), pytest.raises(ApplicationError) as error:
        reports_build(since=DAY2)
    assert error.value.code == "invalid_date"
    assert error.value.message == "since: 2026-03-03 is after today (2026-03-02)."


def test_the_beat_task_builds(activity):
    from reports.tasks import reports_build_task

    # the beat schedules it every REPORTS_BUILD_SECONDS, late-acked, time-limited
    assert settings.CELERY_BEAT_SCHEDULE["reports-build"] == {
        "task": "reports.build",
        "schedule": 300.0,
    }
    assert reports_build_task.name == "reports.build"
    assert (reports_build_task.acks_late, reports_build_task.time_limit) == (True, 300)

    with at(DAY2, 18):
        reports_build_task.apply().get()
    assert trading_rows() == [DAY1_TRADING, DAY2_TRADING]


def test_fees_are_told_apart_per_instrument(db):
    # given trades on two instruments on one day (BTC-USD and ETH-USD share the
    # USD fee account, so the split comes from each trade journal's reference)
    with at(DAY1, 10):
        btc_usd = make_btc_usd()
        eth = make_asset("ETH", 8)
        eth_usd = instrument_create(
            symbol="ETH-USD",
            base=eth,
            quote=btc_usd.quote,
            tick_size=100,
            lot_size=1_000_000,
            maker_fee_bps=10,
            taker_fee_bps=20,
            price_band_percent=0,
        )
        seller = make_verified_user(email="seller@example.com")
        buyer = make_verified_user(email="buyer@example.com")
        fund(seller, btc_usd.base, BTC)
        fund(seller, eth, 10**8)
        fund(buyer, btc_usd.quote, 20_000 * USD)
        for instrument, price, quantity in (
            (btc_usd, "95000", "0.1"),
            (eth_usd, "3000", "1"),
        ):
            for user, side in ((seller, "sell"), (buyer, "buy")):
                order_place(
                    user=user,
                    symbol=instrument.symbol,
                    side=side,
                    price=price,
                    quantity=quantity,
                )
                match(instrument)

    # when the reports are built
    with at(DAY1, 18):
        reports_build()

    # then each instrument has its own volume, notional and fees: the buyer
    # (taker, 0.20%) paid in the base asset, the seller (maker, 0.10%) in USD
    assert sorted(trading_rows(), key=lambda row: row[1]) == [
        (DAY1, "BTC-USD", 1, BTC // 10, 9_500 * USD, 20_000, 9_50),
        (DAY1, "ETH-USD", 1, 10**8, 3_000 * USD, 200_000, 3_00),
    ]


def test_paid_out_is_the_last_payout_step_the_withdrawals_have():
    # A merge guard: today `approved` posts the payout; once withdrawals go
    # approved -> sent -> completed | failed, only `completed` is paid out (an
    # approved or sent withdrawal may still fail and return its funds).
    statuses = set(Withdrawal.Status.values)
    expected = ("completed",) if "completed" in statuses else ("approved",)
    assert WITHDRAWAL_PAID_OUT_STATUSES == expected
