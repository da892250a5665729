"""The one-page view of a user, for support and operators."""

import re

import pytest

from accounts import services as accounts
from accounts.models import AuditCode, AuditEvent, User
from accounts.testing import PASSWORD, admin_client_for
from backoffice.selectors import staff_actions_q, user_page_get
from kyc.testing import make_verified_user
from trading.services import order_place
from trading.tests.helpers import make_btc_usd, match
from wallet import services as wallet
from wallet.tests.helpers import fund, make_beneficiary

pytestmark = pytest.mark.django_db

USD = 100
BTC = 10**8


def page_url(user) -> str:
    return f"/admin/backoffice/useroverview/{user.pk}/change/"


@pytest.fixture
def alice(operator, django_capture_on_commit_callbacks):
    """Alice, verified by a reviewer, with a deposit, a trade, an open order, a
    withdrawal, a transfer, a password change, and things staff did to her."""
    instrument = make_btc_usd()
    usd = instrument.quote
    alice = make_verified_user(email="alice@example.com", full_name="Alice Trader")
    bob = make_verified_user(email="bob@example.com", full_name="Bob Trader")
    deposit = wallet.deposit_create(user=alice, asset=usd, amount=1_000 * USD)
    with django_capture_on_commit_callbacks(execute=True):
        wallet.sandbox_checkout_complete(
            deposit=deposit, user=alice, outcome="succeeded"
        )
    fund(bob, instrument.base, BTC)
    # Bob sells 0.01 BTC at 100; Alice bids for 0.03: 0.01 fills, 0.02 rests.
    order_place(user=bob, symbol="BTC-USD", side="sell", price="100", quantity="0.01")
    order_place(user=alice, symbol="BTC-USD", side="buy", price="100", quantity="0.03")
    match(instrument)
    wallet.withdrawal_request(
        user=alice, asset=usd, amount=50 * USD, beneficiary=make_beneficiary(alice)
    )
    wallet.transfer_create(
        sender=alice, to_email="bob@example.com", asset=usd, amount=5 * USD
    )
    accounts.password_change(
        user=alice, old_password=PASSWORD, new_password="another-long-pass-7"
    )
    accounts.user_lock(user=alice, staff=operator, reason="Check")
    accounts.user_unlock(user=alice, staff=operator, reason="Checked")
    wallet.adjustment_request(
        user=alice, asset=usd, amount=2 * USD, reason="Goodwill", operator=operator
    )
    alice.refresh_from_db()
    return alice


def test_the_page_holds_the_users_money_orders_and_history(alice, operator):
    # when
    page = user_page_get(user=alice)

    # then
    assert [(b.asset.code, b.available, b.held) for b in page.balances] == [
        # 0.01 BTC bought minus the 20 bps taker fee (rounded up to 2000 sat)
        ("BTC", 1_000_000 - 2_000, 0),
        # 1000.00 - 1.00 paid - 2.00 held for the rest - 50 withdrawing - 5 sent
        ("USD", 942 * USD, 52 * USD),
    ]
    assert [(h.reference_kind, h.remaining_amount) for h in page.holds] == [
        ("withdrawal", 50 * USD),
        ("order", 2 * USD),
    ]
    assert [(o.side, o.status, o.open_lots) for o in page.open_orders] == [
        ("buy", "partially_filled", 2)
    ]
    assert [(f.side, f.liquidity, f.quantity_lots) for f in page.fills] == [
        ("buy", "taker", 1)
    ]
    assert [(d.amount, d.status) for d in page.deposits] == [(1_000 * USD, "credited")]
    assert [(w.amount, w.status) for w in page.withdrawals] == [(50 * USD, "requested")]
    assert [(t.sender.email, t.recipient.email) for t in page.transfers] == [
        ("alice@example.com", "bob@example.com")
    ]
    assert page.kyc_profile.status == "approved"
    assert [c.status for c in page.kyc_cases] == ["approved"]
    assert [e.action for e in page.kyc_events] == [
        "approved",
        "document_decided",
        "document_decided",
        "document_decided",
        "claimed",
        "submitted",
    ]
    assert [e.code for e in page.security_events] == [
        AuditCode.TOKENS_REVOKED,
        AuditCode.PASSWORD_CHANGED,
        AuditCode.USER_REGISTERED,
    ]
    assert page.roles == ["trader"]


def test_staff_actions_are_what_others_did_to_the_user(alice, operator):
    # when
    page = user_page_get(user=alice)

    # then: newest first; the user's own doings (submitting KYC, requesting a
    # withdrawal, sending a transfer) are not staff actions
    reviewer = page.kyc_cases[0].decided_by
    assert [(e.code, e.acting_user) for e in page.staff_actions] == [
        (AuditCode.ADJUSTMENT_REQUESTED, operator),
        (AuditCode.STAFF_ACCOUNT_UNLOCKED, operator),
        (AuditCode.STAFF_ACCOUNT_LOCKED, operator),
        (AuditCode.KYC_APPROVED, reviewer),
        (AuditCode.KYC_DOCUMENT_DECIDED, reviewer),
        (AuditCode.KYC_DOCUMENT_DECIDED, reviewer),
        (AuditCode.KYC_DOCUMENT_DECIDED, reviewer),
        (AuditCode.KYC_CLAIMED, reviewer),
    ]


def test_a_back_office_event_without_an_actor_is_a_staff_action(alice):
    accounts.audit_event_record(code=AuditCode.STAFF_SESSIONS_ENDED, user=alice)
    newest = AuditEvent.objects.filter(staff_actions_q(user=alice)).first()
    assert (newest.code, newest.acting_user) == (AuditCode.STAFF_SESSIONS_ENDED, None)


def test_lists_are_bounded(alice):
    page = user_page_get(user=alice, rows=1)
    assert (len(page.kyc_events), len(page.staff_actions), len(page.holds)) == (1, 1, 1)
    assert page.staff_actions[0].code == AuditCode.ADJUSTMENT_REQUESTED


def test_the_page_costs_a_fixed_number_of_queries(alice, django_assert_num_queries):
    with django_assert_num_queries(18):
        user_page_get(user=alice)


@pytest.mark.parametrize("role", ["support", "operator"])
def test_support_and_operators_open_the_page(request, role, alice):
    viewer = request.getfixturevalue(role)

    # when
    response = admin_client_for(viewer).get(page_url(alice))

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert '<tr data-asset="USD"><td>USD</td><td class="num">942.00</td>' in html
    assert '<td class="num">52.00</td><td class="num">994.00</td>' in html
    assert '<tr data-asset="BTC"><td>BTC</td><td class="num">0.00998000</td>' in html
    assert re.search(
        r"<td>BTC-USD</td><td>buy</td><td>Limit</td>\s*"
        r'<td class="num">100.00</td><td class="num">0.03000000</td>\s*'
        r'<td class="num">0.02000000</td><td>Partially filled</td>',
        html,
    )
    staff_codes = re.findall(
        r'<tr data-code="(\d+)">',
        html.split('data-testid="staff-actions"')[1],
    )
    assert staff_codes == ["330", "911", "910", "207", "206", "206", "206", "204"]
    assert 'data-testid="user-status">Active<' in html
    assert 'data-testid="kyc-status">Approved<' in html


def test_the_page_query_count_is_pinned(support, alice, django_assert_num_queries):
    client = admin_client_for(support)
    client.get(page_url(alice))
    with django_assert_num_queries(24):
        assert client.get(page_url(alice)).status_code == 200


def test_a_reviewer_may_not_open_the_page(reviewer, alice):
    client = admin_client_for(reviewer)
    assert client.get(page_url(alice)).status_code == 403
    assert client.get("/admin/backoffice/useroverview/").status_code == 403


def test_a_trader_is_sent_to_the_login(alice):
    bob = User.objects.get(email="bob@example.com")
    response = admin_client_for(bob).get(page_url(alice))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_an_unknown_user_is_a_404(support):
    client = admin_client_for(support)
    for unknown in ("999999", "x"):
        url = f"/admin/backoffice/useroverview/{unknown}/change/"
        assert client.get(url).status_code == 404


def test_the_page_writes_nothing(support, alice):
    client = admin_client_for(support)
    # A post to the page is refused, as on any change page the viewer may only see.
    assert client.post(page_url(alice), {"email": "x@example.com"}).status_code == 403
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    assert client.get("/admin/backoffice/useroverview/add/").status_code == 403
    delete = f"/admin/backoffice/useroverview/{alice.pk}/delete/"
    assert client.post(delete, {"post": "yes"}).status_code == 403


def test_each_section_links_to_its_full_filtered_changelist(support, alice):
    client = admin_client_for(support)
    links = client.get(page_url(alice)).context["links"]
    expected_counts = {
        "holds": 2,
        "orders": 1,
        "all_orders": 1,
        "fills": 1,
        "deposits": 1,
        "withdrawals": 1,
        "transfers_sent": 1,
        "transfers_received": 0,
        "security_events": 3,
        "accounts": 3,
        "kyc_cases": 1,
    }
    for name, count in expected_counts.items():
        response = client.get(links[name])
        assert response.status_code == 200, name
        assert response.context["cl"].result_count == count, name


def test_links_the_viewer_may_not_open_are_left_out(operator, alice):
    links = admin_client_for(operator).get(page_url(alice)).context["links"]
    # operators do not see KYC cases in the admin (roles table)
    assert links["kyc_cases"] is None
    assert links["withdrawals"] == (
        f"/admin/wallet/withdrawal/?user__id__exact={alice.pk}"
    )


# --- Picking a user --------------------------------------------------------------


def test_the_user_picker_is_an_autocomplete_field(support, alice):
    html = admin_client_for(support).get("/admin/backoffice/useroverview/").content
    html = html.decode()
    assert 'class="admin-autocomplete"' in html
    assert 'data-ajax--url="/admin/autocomplete/"' in html
    assert 'data-app-label="accounts"' in html
    assert 'data-model-name="auditevent"' in html
    assert 'data-field-name="user"' in html


def test_the_autocomplete_finds_users_by_email_or_name(support, alice):
    client = admin_client_for(support)
    query = (
        "/admin/autocomplete/?app_label=accounts&model_name=auditevent"
        "&field_name=user&term="
    )
    by_name = client.get(query + "Alice").json()["results"]
    by_email = client.get(query + "alice@").json()["results"]
    assert by_name == by_email == [{"id": str(alice.pk), "text": "alice@example.com"}]


def test_a_reviewer_cannot_search_users(reviewer, alice):
    client = admin_client_for(reviewer)
    response = client.get(
        "/admin/autocomplete/?app_label=accounts&model_name=auditevent"
        "&field_name=user&term=alice"
    )
    assert response.status_code == 403


def test_picking_a_user_opens_their_page(support, alice):
    client = admin_client_for(support)
    response = client.get(f"/admin/backoffice/useroverview/open/?user={alice.pk}")
    assert (response.status_code, response["Location"]) == (302, page_url(alice))

    response = client.get("/admin/backoffice/useroverview/open/?user=nobody")
    assert response.status_code == 302
    assert response["Location"] == "/admin/backoffice/useroverview/"


def test_the_user_list_searches_by_email_and_name(support, alice):
    client = admin_client_for(support)
    for term in ("alice@example", "Alice Trader"):
        response = client.get(f"/admin/backoffice/useroverview/?q={term}")
        assert [u.email for u in response.context["cl"].result_list] == [
            "alice@example.com"
        ]
