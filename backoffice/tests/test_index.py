"""The admin index shows each role what waits for it, and the ledger's last
verification to every member of staff."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.db.models import F
from django.test import override_settings

from accounts.models import AuditCode, AuditEvent
from accounts.roles import Role
from accounts.services import role_grant_approve, role_grant_request
from accounts.testing import admin_client_for, make_user
from backoffice import tasks
from backoffice.models import LedgerVerification
from backoffice.selectors import ops_overview
from kyc.testing import make_verified_user
from kyc.tests.helpers import submitted_case
from trading.models import Instrument
from trading.services import instrument_set_status, order_place
from trading.tests.helpers import make_btc_usd
from wallet import services as wallet
from wallet.models import Account
from wallet.tests.helpers import fund, make_beneficiary

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(operator):
    """One of each thing that waits, made through the real services: a KYC
    submission, a withdrawal request, an adjustment request, an order whose command
    the matcher has not taken (no commit in a test, so no matching job), and the
    instrument halted after it."""
    case = submitted_case(make_user(email="carol@example.com"))
    instrument = make_btc_usd()
    alice = make_verified_user(email="alice@example.com")
    fund(alice, instrument.quote, 100_000)
    withdrawal = wallet.withdrawal_request(
        user=alice,
        asset=instrument.quote,
        amount=1_500,
        beneficiary=make_beneficiary(alice),
    )
    adjustment = wallet.adjustment_request(
        user=alice,
        asset=instrument.quote,
        amount=500,
        reason="Goodwill credit",
        operator=operator,
    )
    order, _ = order_place(
        user=alice, symbol="BTC-USD", side="buy", price="100", quantity="0.01"
    )
    command = order.commands.get()
    halted = instrument_set_status(
        instrument=instrument,
        status=Instrument.Status.HALTED,
        reason="Feed outage",
        acting_user=operator,
    )
    return {
        "case": case,
        "withdrawal": withdrawal,
        "adjustment": adjustment,
        "command": command,
        "instrument": halted,
    }


def tiles_by_key(overview):
    return {tile.key: tile for tile in overview.tiles}


def test_tiles_count_what_waits_and_how_long_the_oldest_waited(operator, work):
    # given: three hours later
    now = work["case"].submitted_at + timedelta(hours=3)

    # when
    tiles = tiles_by_key(ops_overview(user=operator, now=now))

    # then
    assert list(tiles) == [
        "kyc",
        "withdrawals",
        "adjustments",
        "owing",
        "reconciliation",
        "halted",
        "matching",
    ]
    expected = {
        "kyc": (1, work["case"].submitted_at),
        "withdrawals": (1, work["withdrawal"].created_at),
        "adjustments": (1, work["adjustment"].created_at),
        # no refund or chargeback, no provider report here (test_payment_rails)
        "owing": (0, None),
        "reconciliation": (0, None),
        "halted": (1, work["instrument"].updated_at),
        "matching": (1, work["command"].created_at),
    }
    assert {k: (t.count, t.oldest_at) for k, t in tiles.items()} == expected
    assert tiles["kyc"].oldest_age == timedelta(hours=3)
    assert tiles["withdrawals"].oldest_age == now - work["withdrawal"].created_at
    assert tiles["halted"].detail == "BTC-USD"
    assert tiles["halted"].alarm is True
    # a command waiting three hours: the matcher is stuck
    assert tiles["matching"].alarm is True
    assert tiles["withdrawals"].alarm is False


def test_each_number_links_to_its_filtered_changelist(operator, support, work):
    operator_tiles = tiles_by_key(ops_overview(user=operator))
    assert {k: t.url for k, t in operator_tiles.items()} == {
        # operators see the queue's size, but may not open KYC cases
        "kyc": None,
        "withdrawals": (
            "/admin/wallet/withdrawal/?status__in=requested,first_approved"
        ),
        "adjustments": "/admin/wallet/adjustment/?status__in=pending",
        "owing": "/admin/wallet/account/?kind__exact=receivable&owing=1",
        "reconciliation": "/admin/wallet/reconciliationitem/?status__exact=open",
        "halted": "/admin/trading/instrument/?status__exact=halted",
        "matching": "/admin/trading/ordercommand/?processed_at__isempty=1",
    }
    support_tiles = tiles_by_key(ops_overview(user=support))
    assert support_tiles["kyc"].url == "/admin/kyc/kyccase/?queue=waiting"


def test_each_link_opens_a_changelist_holding_exactly_the_waiting_rows(support, work):
    client = admin_client_for(support)
    for tile in ops_overview(user=support).tiles:
        response = client.get(tile.url)
        assert response.status_code == 200, tile.url
        assert response.context["cl"].result_count == tile.count, tile.url


def test_a_reviewer_sees_the_kyc_queue_and_no_money(reviewer, work):
    # when
    overview = ops_overview(user=reviewer)
    page = admin_client_for(reviewer).get("/admin/").content.decode()

    # then
    assert [(t.key, t.count, t.url) for t in overview.tiles] == [
        ("kyc", 1, "/admin/kyc/kyccase/?queue=waiting")
    ]
    assert (
        'data-testid="tile-kyc-count"><a href="/admin/kyc/kyccase/?queue=waiting">1<'
        in page
    )
    for hidden in ("withdrawals", "adjustments", "halted", "matching", "users"):
        assert f'data-testid="tile-{hidden}"' not in page


def test_the_index_shows_counts_and_ages(support, work):
    later = work["case"].submitted_at + timedelta(hours=3, minutes=5, seconds=30)
    client = admin_client_for(support)
    with mock.patch("django.utils.timezone.now", return_value=later):
        page = client.get("/admin/").content.decode()
    for key in ("kyc", "withdrawals", "adjustments", "halted", "matching"):
        count = re.search(rf'data-testid="tile-{key}-count"><a [^>]+>(\d+)<', page)
        assert count is not None and count.group(1) == "1", key
        assert f'data-testid="tile-{key}-age">3 h 5 min<' in page, key
    assert 'data-testid="tile-users"' in page


def test_an_empty_back_office_shows_zeros(operator):
    tiles = tiles_by_key(ops_overview(user=operator))
    assert {k: (t.count, t.oldest_at, t.alarm) for k, t in tiles.items()} == {
        "kyc": (0, None, False),
        "withdrawals": (0, None, False),
        "adjustments": (0, None, False),
        "owing": (0, None, False),
        "reconciliation": (0, None, False),
        "halted": (0, None, False),
        "matching": (0, None, False),
    }


def test_decided_work_no_longer_waits(operator, work):
    from accounts.roles import Role

    # given: a second operator decides the money, the instrument resumes trading
    checker = make_user(
        email="checker@example.com", roles=(Role.OPERATOR,), is_staff=True
    )
    wallet.withdrawal_reject(
        withdrawal=work["withdrawal"], operator=checker, reason="Wrong account."
    )
    wallet.adjustment_approve(
        adjustment=work["adjustment"], operator=checker, note="Checked the ticket."
    )
    instrument_set_status(
        instrument=work["instrument"], status=Instrument.Status.TRADING
    )

    # when
    tiles = tiles_by_key(ops_overview(user=operator))

    # then
    assert (tiles["withdrawals"].count, tiles["adjustments"].count) == (0, 0)
    assert tiles["halted"].count == 0


@pytest.mark.parametrize(("role", "queries"), [("operator", 8), ("reviewer", 2)])
def test_the_tiles_cost_one_query_each(
    request, role, queries, work, django_assert_num_queries
):
    user = request.getfixturevalue(role)
    user.get_all_permissions()  # the admin has loaded them already
    with django_assert_num_queries(queries):
        ops_overview(user=user)


def test_the_index_page_query_count_is_pinned(
    operator, work, django_assert_num_queries
):
    client = admin_client_for(operator)
    client.get("/admin/")  # warm the content types cache
    with django_assert_num_queries(14):
        assert client.get("/admin/").status_code == 200


# --- The ledger banner ------------------------------------------------------------


def break_the_ledger():
    """A cached balance that no longer equals the sum of its entries."""
    user = make_user(email="victim@example.com")
    instrument = make_btc_usd()
    fund(user, instrument.quote, 10_000)
    Account.objects.filter(owner=user, kind=Account.Kind.AVAILABLE).update(
        balance=F("balance") + 1
    )


def test_a_failed_verification_is_red_for_every_member_of_staff(
    reviewer, support, operator
):
    # given: the beat found a broken ledger
    break_the_ledger()
    tasks.ledger_verify.delay()
    row = LedgerVerification.objects.get()
    assert (row.ok, row.trigger, row.problem_count) == (False, "beat", 3)
    event = AuditEvent.objects.get(code=AuditCode.LEDGER_VERIFICATION_FAILED)
    assert event.target_id == str(row.pk)

    # then: everyone sees it in red; those who may, follow it to the problems
    for member in (reviewer, support, operator):
        page = admin_client_for(member).get("/admin/").content.decode()
        banner = re.search(
            r'<div class="ops-ledger failed" data-testid="ledger-status"'
            r' data-status="failed" role="alert">(.*?)</div>',
            page,
            re.S,
        )
        assert banner is not None, member.email
        text = " ".join(banner.group(1).split())
        assert "Ledger verification FAILED" in text
        assert "3 problems" in text
        link = f'href="/admin/backoffice/ledgerverification/{row.pk}/change/"'
        if member is reviewer:
            assert link not in text and "Tell an operator." in text
        else:
            assert link in text


def test_a_passing_verification_is_green(reviewer):
    tasks.ledger_verify.delay()
    page = admin_client_for(reviewer).get("/admin/").content.decode()
    assert 'data-status="ok"' in page
    assert "checks ok." in page


@override_settings(BACKOFFICE_LEDGER_VERIFY_MINUTES=15)
def test_no_recent_verification_is_a_warning(reviewer):
    page = admin_client_for(reviewer).get("/admin/").content.decode()
    assert 'data-status="stale"' in page
    assert (
        "No ledger verification recorded yet: Celery beat runs one every 15 min" in page
    )

    tasks.ledger_verify.delay()
    row = LedgerVerification.objects.get()
    later = row.finished_at + timedelta(hours=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        page = admin_client_for(reviewer).get("/admin/").content.decode()
    assert 'data-status="stale"' in page
    assert "(1 h 0 min ago): the scheduled check (every 15 min on Celery beat)" in page


def test_administrators_see_the_role_grants_waiting_for_a_second_one(operator):
    # given: one administrator asks for a role for carol
    first = make_user(
        email="admin1@example.com", roles=(Role.ADMINISTRATOR,), is_staff=True
    )
    second = make_user(
        email="admin2@example.com", roles=(Role.ADMINISTRATOR,), is_staff=True
    )
    carol = make_user(email="carol@example.com")
    grant = role_grant_request(
        requested_by=first, user=carol, role=Role.SUPPORT, reason="Joins support."
    )

    # when / then: administrators see it waiting, with a link to the request list
    tile = tiles_by_key(ops_overview(user=second))["role_grants"]
    assert (tile.count, tile.oldest_at) == (1, grant.created_at)
    assert tile.url == "/admin/accounts/rolegrantrequest/?status__exact=requested"
    # operators move money, they do not grant roles: no tile
    assert "role_grants" not in tiles_by_key(ops_overview(user=operator))

    # when the second administrator approves, nothing waits any more
    role_grant_approve(request_id=grant.pk, approver=second, note="Agreed.")
    assert tiles_by_key(ops_overview(user=second))["role_grants"].count == 0
