"""The back office: read-only ledger, withdrawal queue and maker-checker."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditCode
from accounts.roles import Role
from accounts.services import audit_event_record
from accounts.testing import admin_client_for, make_user
from kyc.testing import kyc_approve
from trading.services import order_place
from trading.tests.helpers import make_btc_usd, match
from wallet import services
from wallet.admin_approvals import AdjustmentAdmin, WithdrawalAdmin
from wallet.models import Adjustment, Withdrawal
from wallet.providers.sandbox import SandboxProvider
from wallet.tests.helpers import balances, fund, make_asset, make_beneficiary

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    return make_user(email="op1@example.com", roles=(Role.OPERATOR,), is_staff=True)


@pytest.fixture
def operator2(db):
    return make_user(email="op2@example.com", roles=(Role.OPERATOR,), is_staff=True)


@pytest.fixture
def requested(alice, usd):
    kyc_approve(user=alice)
    fund(alice, usd, 10_000)
    return services.withdrawal_request(
        user=alice, asset=usd, amount=1_500, beneficiary=make_beneficiary(alice)
    )


@pytest.mark.parametrize(
    "url",
    [
        "/admin/wallet/asset/",
        "/admin/wallet/account/",
        "/admin/wallet/journal/",
        "/admin/wallet/hold/",
        "/admin/wallet/deposit/",
        "/admin/wallet/withdrawal/",
        "/admin/wallet/adjustment/",
        "/admin/wallet/adjustment/add/",
        "/admin/wallet/transfer/",
        "/admin/wallet/withdrawal/{pk}/change/",
        "/admin/wallet/withdrawal/{pk}/review/",
    ],
)
def test_operator_sees_the_wallet_back_office(operator, requested, url):
    page = admin_client_for(operator).get(url.format(pk=requested.pk))
    assert page.status_code == 200


def test_ledger_admin_is_read_only(operator, requested):
    client = admin_client_for(operator)
    journal_id = requested.hold.held_account.entries.first().journal_id
    page = client.get(f"/admin/wallet/journal/{journal_id}/change/")
    assert page.status_code == 200
    assert b"Save" not in page.content
    assert client.get("/admin/wallet/journal/add/").status_code == 403


def test_kyc_reviewer_sees_nothing_of_the_ledger(requested):
    reviewer = make_user(roles=(Role.KYC_REVIEWER,), is_staff=True)
    assert admin_client_for(reviewer).get("/admin/wallet/account/").status_code == 403


NOTE = "Checked the destination and the history."


def test_no_bulk_action_remains_on_withdrawals_or_adjustments(operator, requested):
    client = admin_client_for(operator)
    for url in ("/admin/wallet/withdrawal/", "/admin/wallet/adjustment/"):
        page = client.get(url)
        assert page.status_code == 200
        assert b'name="action"' not in page.content
    # The old bulk approve is gone: posting it changes nothing.
    client.post(
        "/admin/wallet/withdrawal/",
        {"action": "approve_selected", "_selected_action": [requested.pk]},
    )
    requested.refresh_from_db()
    assert requested.status == "requested"
    assert WithdrawalAdmin.actions is None and AdjustmentAdmin.actions is None


def test_withdrawal_queue_opens_on_pending_oldest_first(operator, operator2, alice):
    kyc_approve(user=alice)
    usd = make_asset("USD", 2)
    fund(alice, usd, 10_000)
    first = services.withdrawal_request(
        user=alice, asset=usd, amount=100, beneficiary=make_beneficiary(alice)
    )
    decided = services.withdrawal_request(
        user=alice, asset=usd, amount=200, beneficiary=make_beneficiary(alice)
    )
    third = services.withdrawal_request(
        user=alice, asset=usd, amount=300, beneficiary=make_beneficiary(alice)
    )
    services.withdrawal_approve(withdrawal=decided, operator=operator, note=NOTE)
    Withdrawal.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - timedelta(hours=3)
    )
    page = admin_client_for(operator2).get("/admin/wallet/withdrawal/")
    assert [w.pk for w in page.context["cl"].result_list] == [first.pk, third.pk]
    everything = admin_client_for(operator2).get("/admin/wallet/withdrawal/?queue=all")
    assert [w.pk for w in everything.context["cl"].result_list] == [
        first.pk,
        decided.pk,
        third.pk,
    ]


def test_review_page_shows_the_flags_to_an_operator(operator, operator2, alice, usd):
    # given: alice deposited 40.00 an hour ago, a staff member changed her email
    # earlier, and this is her first withdrawal
    kyc_approve(user=alice)
    deposit = services.deposit_create(user=alice, asset=usd, amount=4_000)
    headers, body = SandboxProvider().build_webhook(
        deposit=deposit, outcome="succeeded"
    )
    services.deposit_webhook_process(provider="sandbox", headers=headers, body=body)
    withdrawal = services.withdrawal_request(
        user=alice, asset=usd, amount=3_000, beneficiary=make_beneficiary(alice)
    )
    audit_event_record(
        code=AuditCode.STAFF_CONTACT_CHANGED, user=alice, acting_user=operator
    )
    # when: the operator who changed her email opens the review page
    page = admin_client_for(operator).get(
        f"/admin/wallet/withdrawal/{withdrawal.pk}/change/"
    )
    # then: everything is on it, and no approve button for them
    assert page.status_code == 200
    html = page.content.decode()
    for flag in (
        "new_beneficiary",
        "credential_change",
        "first_withdrawal",
        "deposit_then_withdrawal",
    ):
        assert f'data-flag="{flag}"' in html
    # the test beneficiary was confirmed a cool-off and an hour ago: still "new"
    assert "New beneficiary: confirmed 25 h before this request." in html
    assert "1\xa0day, 1\xa0hour</strong> before the request" in html
    assert "DE89 3704 0044 0532 0130 00" in html
    assert '<td data-testid="kyc">Approved</td>' in html
    assert "You performed a staff action on this user recently" in html
    assert 'data-testid="approve"' not in html
    assert 'data-testid="reject"' in html
    assert page.context["balances"] == [("USD", "10.00", "30.00")]
    # the custom review URL is the same page
    review = admin_client_for(operator2).get(
        f"/admin/wallet/withdrawal/{withdrawal.pk}/review/"
    )
    assert review.status_code == 200
    assert "You performed a staff action" not in review.content.decode()


def test_review_page_is_403_for_a_kyc_reviewer(requested):
    reviewer = make_user(roles=(Role.KYC_REVIEWER,), is_staff=True)
    client = admin_client_for(reviewer)
    assert (
        client.get(f"/admin/wallet/withdrawal/{requested.pk}/change/").status_code
        == 403
    )
    assert (
        client.get(f"/admin/wallet/withdrawal/{requested.pk}/review/").status_code
        == 403
    )
    response = client.post(
        f"/admin/wallet/withdrawal/{requested.pk}/approve/", {"note": NOTE}
    )
    assert response.status_code == 403
    requested.refresh_from_db()
    assert requested.status == "requested"


def test_review_page_steps_approve_send_complete(operator, operator2, alice, requested):
    client = admin_client_for(operator)
    base = f"/admin/wallet/withdrawal/{requested.pk}"
    # a note that is too short is refused and nothing changes
    short = client.post(f"{base}/approve/", {"note": "ok"}, follow=True)
    assert [str(m) for m in short.context["messages"]] == [
        "note: Ensure this value has at least 10 characters (it has 2)."
    ]
    requested.refresh_from_db()
    assert requested.status == "requested"
    client.post(f"{base}/approve/", {"note": NOTE})
    requested.refresh_from_db()
    assert (requested.status, requested.decided_by) == ("approved", operator)
    assert balances(alice) == {"USD": (8_500, 1_500)}
    page = client.get(f"{base}/change/")
    assert b'data-testid="sent"' in page.content
    client.post(
        f"{base}/sent/", {"payout_reference": "SEPA-0001", "note": NOTE}, follow=True
    )
    requested.refresh_from_db()
    assert (requested.status, requested.payout_reference) == ("sent", "SEPA-0001")
    assert balances(alice) == {"USD": (8_500, 0)}
    done = admin_client_for(operator2).post(
        f"{base}/completed/", {"note": "Bank confirmed the credit."}, follow=True
    )
    assert b"Payout confirmed: Completed." in done.content
    requested.refresh_from_db()
    assert requested.status == "completed"
    assert list(requested.history.values_list("new_status", "note")) == [
        ("requested", ""),
        ("approved", NOTE),
        ("sent", NOTE),
        ("completed", "Bank confirmed the credit."),
    ]


def test_review_page_reject_releases_the_hold(operator, alice, requested):
    admin_client_for(operator).post(
        f"/admin/wallet/withdrawal/{requested.pk}/reject/",
        {"note": "Destination does not match the user."},
    )
    requested.refresh_from_db()
    assert (requested.status, requested.reason) == (
        "rejected",
        "Destination does not match the user.",
    )
    assert balances(alice) == {"USD": (10_000, 0)}


def test_operator_cannot_approve_own_withdrawal_on_the_page(usd):
    op = make_user(email="self@example.com", roles=(Role.OPERATOR,), is_staff=True)
    kyc_approve(user=op)
    fund(op, usd, 1_000)
    mine = services.withdrawal_request(
        user=op, asset=usd, amount=100, beneficiary=make_beneficiary(op)
    )
    client = admin_client_for(op)
    page = client.get(f"/admin/wallet/withdrawal/{mine.pk}/change/")
    assert b"This is your own withdrawal." in page.content
    assert b'data-testid="approve"' not in page.content
    response = client.post(
        f"/admin/wallet/withdrawal/{mine.pk}/approve/", {"note": NOTE}, follow=True
    )
    assert (
        b"Four eyes: you cannot approve your own money movements." in response.content
    )
    assert Withdrawal.objects.get().status == "requested"


def test_adjustment_maker_checker_in_admin(operator, operator2, alice, usd):
    maker = admin_client_for(operator)
    add_page = maker.get("/admin/wallet/adjustment/add/")
    assert b"admin-autocomplete" in add_page.content  # the user picker
    response = maker.post(
        "/admin/wallet/adjustment/add/",
        {"user": alice.pk, "asset": usd.pk, "amount_text": "12.34", "reason": "refund"},
        follow=True,
    )
    assert response.status_code == 200
    adjustment = Adjustment.objects.get()
    assert (adjustment.amount, adjustment.status, adjustment.requested_by) == (
        1_234,
        "pending",
        operator,
    )
    page = maker.get(f"/admin/wallet/adjustment/{adjustment.pk}/change/")
    assert b"You requested this adjustment" in page.content
    assert b'data-testid="approve"' not in page.content
    response = maker.post(
        f"/admin/wallet/adjustment/{adjustment.pk}/approve/",
        {"note": NOTE},
        follow=True,
    )
    assert b"Four eyes: a second operator must decide" in response.content
    assert balances(alice) == {}
    checker = admin_client_for(operator2)
    page = checker.get(f"/admin/wallet/adjustment/{adjustment.pk}/change/")
    assert b'data-testid="approve"' in page.content
    checker.post(f"/admin/wallet/adjustment/{adjustment.pk}/approve/", {"note": NOTE})
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decided_by) == ("approved", operator2)
    assert list(adjustment.history.values_list("new_status", "note")) == [
        ("pending", ""),
        ("approved", NOTE),
    ]
    assert balances(alice) == {"USD": (1_234, 0)}


def test_adjustment_add_rejects_bad_amounts(operator, alice, usd):
    response = admin_client_for(operator).post(
        "/admin/wallet/adjustment/add/",
        {"user": alice.pk, "asset": usd.pk, "amount_text": "1.234", "reason": "x"},
    )
    assert response.status_code == 200
    assert b"amount: has more than 2 decimal places." in response.content
    assert not Adjustment.objects.exists()


def test_asset_decimals_are_fixed_once_created(operator, usd):
    superuser = make_user(roles=(Role.OPERATOR,), is_staff=True, is_superuser=True)
    page = admin_client_for(superuser).get(f"/admin/wallet/asset/{usd.pk}/change/")
    assert b'name="decimals"' not in page.content
    assert b'name="name"' in page.content


def test_review_page_lists_the_users_recent_fills(operator, alice, bob, usd, btc):
    # given: alice bought 0.01 BTC at 100.00 USD from bob, then asks to withdraw
    instrument = make_btc_usd()
    for user in (alice, bob):
        kyc_approve(user=user)
    fund(alice, usd, 100_000)
    fund(bob, btc, 10**8)
    order_place(user=bob, symbol="BTC-USD", side="sell", price="100", quantity="0.01")
    order_place(user=alice, symbol="BTC-USD", side="buy", price="100", quantity="0.01")
    match(instrument)
    withdrawal = services.withdrawal_request(
        user=alice, asset=usd, amount=1_000, beneficiary=make_beneficiary(alice)
    )
    # when
    page = admin_client_for(operator).get(
        f"/admin/wallet/withdrawal/{withdrawal.pk}/review/"
    )
    # then
    [(fill, symbol, price, quantity, value)] = page.context["fills"]
    assert (symbol, fill.side, price, quantity, value) == (
        "BTC-USD",
        "buy",
        "100.00",
        "0.01000000",
        "1.00",
    )


def test_review_page_and_queue_queries_do_not_grow_with_history(operator, alice, usd):
    kyc_approve(user=alice)
    fund(alice, usd, 100_000)

    def counts() -> tuple[int, int]:
        withdrawal = services.withdrawal_request(
            user=alice, asset=usd, amount=100, beneficiary=make_beneficiary(alice)
        )
        services.deposit_create(user=alice, asset=usd, amount=100)
        client = admin_client_for(operator)
        client.get("/admin/wallet/withdrawal/")  # warm the session and caches
        with CaptureQueriesContext(connection) as review:
            client.get(f"/admin/wallet/withdrawal/{withdrawal.pk}/review/")
        with CaptureQueriesContext(connection) as queue:
            client.get("/admin/wallet/withdrawal/")
        return len(review), len(queue)

    first = counts()
    for _ in range(3):
        counts()
    assert counts() == first
