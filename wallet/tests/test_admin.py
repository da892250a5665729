"""The back office: read-only ledger, withdrawal queue and maker-checker."""

import pytest

from accounts.roles import Role
from accounts.testing import admin_client_for, make_user
from kyc.testing import kyc_approve
from wallet import services
from wallet.models import Adjustment, Withdrawal
from wallet.tests.helpers import balances, fund, make_beneficiary

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
    ],
)
def test_operator_sees_the_wallet_back_office(operator, requested, url):
    assert admin_client_for(operator).get(url).status_code == 200


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


def test_approve_action_posts_the_hold(operator, alice, requested):
    response = admin_client_for(operator).post(
        "/admin/wallet/withdrawal/",
        {"action": "approve_selected", "_selected_action": [requested.pk]},
        follow=True,
    )
    assert b"1 withdrawal(s) approved." in response.content
    requested.refresh_from_db()
    assert requested.status == "approved"
    assert balances(alice) == {"USD": (8_500, 0)}


def test_reject_action_releases_the_hold(operator, alice, requested):
    admin_client_for(operator).post(
        "/admin/wallet/withdrawal/",
        {"action": "reject_selected", "_selected_action": [requested.pk]},
    )
    requested.refresh_from_db()
    assert requested.status == "rejected"
    assert balances(alice) == {"USD": (10_000, 0)}


def test_operator_cannot_approve_own_withdrawal_in_admin(usd):
    op = make_user(email="self@example.com", roles=(Role.OPERATOR,), is_staff=True)
    kyc_approve(user=op)
    fund(op, usd, 1_000)
    mine = services.withdrawal_request(
        user=op, asset=usd, amount=100, beneficiary=make_beneficiary(op)
    )
    response = admin_client_for(op).post(
        "/admin/wallet/withdrawal/",
        {"action": "approve_selected", "_selected_action": [mine.pk]},
        follow=True,
    )
    assert (
        f"#{mine.pk}: Four eyes: you cannot approve your own withdrawal.".encode()
        in response.content
    )
    assert Withdrawal.objects.get().status == "requested"


def test_adjustment_maker_checker_in_admin(operator, operator2, alice, usd):
    maker = admin_client_for(operator)
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
    response = maker.post(
        "/admin/wallet/adjustment/",
        {"action": "approve_selected", "_selected_action": [adjustment.pk]},
        follow=True,
    )
    assert b"Four eyes: a second operator must decide" in response.content
    assert balances(alice) == {}
    admin_client_for(operator2).post(
        "/admin/wallet/adjustment/",
        {"action": "approve_selected", "_selected_action": [adjustment.pk]},
    )
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decided_by) == ("approved", operator2)
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
