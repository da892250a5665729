"""The wallet REST API: shapes, money as strings, idempotency, bad input."""

import json
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.testing import api_client_for
from kyc.testing import kyc_approve
from wallet import services
from wallet.models import Deposit, Transfer
from wallet.providers.sandbox import SIGNATURE_HEADER, SandboxProvider, sign
from wallet.tests.helpers import balances, fund, make_asset, make_beneficiary

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(alice):
    return api_client_for(alice)


def _post(client, url, data, key="k-1"):
    return client.post(url, data, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_balances_are_decimal_strings_with_alert_flags(client, alice, usd, btc):
    fund(alice, usd, 123_456)
    fund(alice, btc, 1)
    services.hold_create(
        user=alice, asset=usd, amount=456, reference_kind="order", reference_id="1"
    )
    services.balance_alert_set(user=alice, asset=btc, minimum=100_000_000)
    response = client.get("/api/v1/wallet/balances")
    assert response.status_code == 200
    assert response.json() == [
        {
            "asset": "BTC",
            "name": "BTC",
            "decimals": 8,
            "available": "0.00000001",
            "held": "0.00000000",
            "total": "0.00000001",
            "minimum": "1.00000000",
            "below_minimum": True,
            "owed": "0.00000000",
        },
        {
            "asset": "USD",
            "name": "USD",
            "decimals": 2,
            "available": "1230.00",
            "held": "4.56",
            "total": "1234.56",
            "minimum": None,
            "below_minimum": False,
            "owed": "0.00",
        },
    ]


def test_alerts_put_and_delete(client, usd):
    response = client.put(
        "/api/v1/wallet/alerts/usd", {"minimum": "25.50"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["minimum"] == "25.50"
    assert client.get("/api/v1/wallet/alerts").json()[0]["asset"] == "USD"
    bad = client.put("/api/v1/wallet/alerts/USD", {"minimum": "0"}, format="json")
    assert bad.json()["error"]["message"] == "minimum: must be greater than zero."
    assert client.delete("/api/v1/wallet/alerts/USD").status_code == 204
    assert client.delete("/api/v1/wallet/alerts/USD").status_code == 404


@pytest.mark.kyc_verified
def test_deposit_create_list_and_webhook_over_http(client, alice, usd):
    response = _post(
        client, "/api/v1/wallet/deposits", {"asset": "USD", "amount": "25.00"}
    )
    assert response.status_code == 201
    body = response.json()
    deposit = Deposit.objects.get()
    assert body["status"] == "pending"
    assert body["amount"] == "25.00"
    assert body["checkout_url"] == (
        f"http://testserver/wallet/sandbox/checkout/{deposit.provider_reference}/"
    )
    # The provider calls the webhook: no auth, raw signed body.
    headers, raw = SandboxProvider().build_webhook(deposit=deposit, outcome="succeeded")
    anonymous = api_client_for(alice).__class__()
    for _ in range(2):
        hook = anonymous.post(
            "/api/v1/wallet/webhooks/sandbox",
            raw,
            content_type="application/json",
            HTTP_X_SANDBOX_SIGNATURE=headers[SIGNATURE_HEADER],
        )
        assert hook.status_code == 200
        assert hook.json() == {
            "event": json.loads(raw)["id"],
            "outcome": "applied",  # the second delivery finds it stored
            "deposit": deposit.pk,
            "status": "credited",
        }
    assert balances(alice) == {"USD": (2_500, 0)}
    listed = client.get("/api/v1/wallet/deposits").json()
    assert [(d["id"], d["status"], d["checkout_url"]) for d in listed["results"]] == [
        (deposit.pk, "credited", "")
    ]


@pytest.mark.kyc_verified
def test_webhook_refuses_forged_and_stale_signatures(client, alice, usd):
    _post(client, "/api/v1/wallet/deposits", {"asset": "USD", "amount": "25.00"})
    deposit = Deposit.objects.get()
    anonymous = api_client_for(alice).__class__()
    _, raw = SandboxProvider().build_webhook(deposit=deposit, outcome="succeeded")
    forged = anonymous.post(
        "/api/v1/wallet/webhooks/sandbox",
        raw,
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=f"t={int(time.time())},v1={'0' * 64}",
    )
    assert forged.status_code == 400
    assert forged.json()["error"]["code"] == "invalid_signature"
    old = int(time.time()) - 600
    stale = anonymous.post(
        "/api/v1/wallet/webhooks/sandbox",
        raw,
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=sign(raw, timestamp=old),
    )
    assert stale.status_code == 400
    assert stale.json()["error"]["code"] == "stale_signature"
    unknown = anonymous.post(
        "/api/v1/wallet/webhooks/stripe", raw, content_type="application/json"
    )
    assert unknown.status_code == 404
    assert balances(alice) == {}


@pytest.mark.parametrize(
    ("payload", "status", "code", "message"),
    [
        (
            {"asset": "USD", "amount": "-1"},
            400,
            "invalid_amount",
            "amount: must not be negative.",
        ),
        (
            {"asset": "USD", "amount": "0"},
            400,
            "invalid_amount",
            "amount: must be greater than zero.",
        ),
        (
            {"asset": "USD", "amount": "1.001"},
            400,
            "invalid_amount",
            "amount: has more than 2 decimal places.",
        ),
        (
            {"asset": "USD", "amount": "92233720368547758.08"},
            400,
            "invalid_amount",
            "amount: is too large.",
        ),
        (
            {"asset": "USD", "amount": 10},
            400,
            "invalid",
            'amount: Send the amount as a decimal string, e.g. "10.50".',
        ),
        (
            {"asset": "USD", "amount": "ten"},
            400,
            "invalid_amount",
            'amount: must be a decimal string such as "10.50".',
        ),
        (
            {"asset": "DOGE", "amount": "1"},
            400,
            "unknown_asset",
            "asset: unknown asset 'DOGE'.",
        ),
        (
            {"asset": "OLD", "amount": "1"},
            422,
            "asset_inactive",
            "asset: OLD is not active.",
        ),
        ({"asset": "USD"}, 400, "invalid", "amount: This field is required."),
    ],
)
def test_transfer_bad_input(client, alice, bob, usd, payload, status, code, message):
    make_asset("OLD", 2, is_active=False)
    fund(alice, usd, 10_000)
    response = _post(client, "/api/v1/wallet/transfers", {"to": bob.email, **payload})
    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"] == message
    assert not Transfer.objects.exists()


@pytest.mark.parametrize(
    ("to", "status", "code"),
    [
        ("alice@example.com", 400, "transfer_to_self"),
        ("ghost@example.com", 404, "unknown_recipient"),
        ("not-an-email", 400, "invalid"),
    ],
)
@pytest.mark.kyc_verified
def test_transfer_bad_recipient(client, alice, usd, to, status, code):
    fund(alice, usd, 10_000)
    response = _post(
        client, "/api/v1/wallet/transfers", {"to": to, "asset": "USD", "amount": "1"}
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert "to" in response.json()["error"]["details"]


@pytest.mark.kyc_verified
def test_transfer_is_idempotent(client, alice, bob, usd):
    fund(alice, usd, 10_000)
    payload = {"to": bob.email, "asset": "USD", "amount": "10.00", "note": "hi"}
    first = _post(client, "/api/v1/wallet/transfers", payload, key="tr-1")
    again = _post(client, "/api/v1/wallet/transfers", payload, key="tr-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["direction"] == "sent"
    assert first.json()["counterparty"] == "bob@example.com"
    other = _post(
        client, "/api/v1/wallet/transfers", {**payload, "amount": "11.00"}, key="tr-1"
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    missing = client.post("/api/v1/wallet/transfers", payload, format="json")
    assert missing.json()["error"]["code"] == "idempotency_key_invalid"
    assert Transfer.objects.count() == 1
    assert balances(alice) == {"USD": (9_000, 0)}
    received = api_client_for(bob).get("/api/v1/wallet/transfers").json()["results"]
    assert [(t["direction"], t["counterparty"], t["amount"]) for t in received] == [
        ("received", "alice@example.com", "10.00")
    ]


@pytest.mark.kyc_verified
def test_transfer_insufficient_funds_is_422(client, alice, bob, usd):
    fund(alice, usd, 100)
    response = _post(
        client,
        "/api/v1/wallet/transfers",
        {"to": bob.email, "asset": "USD", "amount": "1.01"},
    )
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "insufficient_funds",
        "message": "amount: insufficient funds, 1.00 USD available but 1.01 needed.",
        "details": {
            "amount": [
                "amount: insufficient funds, 1.00 USD available but 1.01 needed."
            ],
            "asset": "USD",
        },
    }


def test_withdrawal_api_flow(client, alice, usd):
    fund(alice, usd, 10_000)
    to = make_beneficiary(alice)
    payload = {"asset": "USD", "amount": "30.00", "beneficiary": to.pk}
    refused = _post(client, "/api/v1/wallet/withdrawals", payload, key="w-0")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "kyc_required"
    kyc_approve(user=alice)
    created = _post(client, "/api/v1/wallet/withdrawals", payload, key="w-1")
    assert created.status_code == 201
    assert created.json()["status"] == "requested"
    assert (created.json()["beneficiary"], created.json()["rail"]) == (
        to.pk,
        "bank_iban",
    )
    assert created.json()["destination"] == "DE89370400440532013000"
    assert balances(alice) == {"USD": (7_000, 3_000)}
    wid = created.json()["id"]
    cancelled = client.post(f"/api/v1/wallet/withdrawals/{wid}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/wallet/withdrawals/{wid}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "withdrawal_not_cancellable"
    assert balances(alice) == {"USD": (10_000, 0)}
    listed = client.get("/api/v1/wallet/withdrawals").json()["results"]
    assert [(w["id"], w["status"], w["amount"]) for w in listed] == [
        (wid, "cancelled", "30.00")
    ]


@pytest.mark.kyc_verified
def test_statement_running_balance_filters_and_cursor(client, alice, bob, usd, btc):
    fund(alice, usd, 10_000)
    fund(alice, btc, 5)
    for i in range(3):
        services.transfer_create(
            sender=alice, to_email=bob.email, asset=usd, amount=1_000, note=f"n{i}"
        )
    response = client.get("/api/v1/wallet/statement", {"asset": "USD", "limit": 2})
    page = response.json()
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in page["results"]] == [
        ("transfer", "-10.00", "70.00"),
        ("transfer", "-10.00", "80.00"),
    ]
    assert page["results"][0]["description"] == "Transfer to bob@example.com: n2"
    page2 = client.get(page["next"]).json()
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in page2["results"]] == [
        ("transfer", "-10.00", "90.00"),
        ("deposit", "100.00", "100.00"),
    ]
    assert page2["next"] is None
    kinds = client.get("/api/v1/wallet/statement", {"kind": "deposit"}).json()[
        "results"
    ]
    assert [(e["asset"], e["amount"]) for e in kinds] == [
        ("BTC", "0.00000005"),
        ("USD", "100.00"),
    ]
    future = client.get("/api/v1/wallet/statement", {"date_from": "2999-01-01"}).json()
    assert future["results"] == []
    bad = client.get(
        "/api/v1/wallet/statement", {"date_from": "2020-02-02", "date_to": "2020-01-01"}
    )
    assert bad.status_code == 400
    bob_view = api_client_for(bob).get("/api/v1/wallet/statement").json()["results"]
    assert [(e["amount"], e["balance_after"], e["description"]) for e in bob_view] == [
        ("10.00", "30.00", "Transfer from alice@example.com: n2"),
        ("10.00", "20.00", "Transfer from alice@example.com: n1"),
        ("10.00", "10.00", "Transfer from alice@example.com: n0"),
    ]


@pytest.mark.kyc_verified
def test_statement_query_count_is_fixed(client, alice, bob, usd):
    fund(alice, usd, 10_000)
    services.transfer_create(sender=alice, to_email=bob.email, asset=usd, amount=1)
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/wallet/statement")
    for _ in range(5):
        services.transfer_create(sender=alice, to_email=bob.email, asset=usd, amount=1)
    with CaptureQueriesContext(connection) as more:
        client.get("/api/v1/wallet/statement")
    assert len(more) == len(few)


@pytest.mark.kyc_verified
def test_statement_csv(client, alice, bob, usd):
    fund(alice, usd, 10_000)
    services.transfer_create(
        sender=alice, to_email=bob.email, asset=usd, amount=250, note="=HYPERLINK()"
    )
    response = client.get("/api/v1/wallet/statement.csv", {"asset": "USD"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == (
        "entry_id,created_at,asset,account,kind,reference,amount,balance_after,description"
    )
    cells = [line.split(",") for line in lines[1:]]
    assert [(c[2], c[3], c[4], c[6], c[7]) for c in cells] == [
        ("USD", "available", "transfer", "-2.50", "97.50"),
        ("USD", "available", "deposit", "100.00", "100.00"),
    ]
    assert cells[0][8] == "Transfer to bob@example.com: =HYPERLINK()"


def test_assets_and_auth_required(client, usd, btc):
    assert [a["code"] for a in client.get("/api/v1/wallet/assets").json()] == [
        "BTC",
        "USD",
    ]
    anonymous = client.__class__()
    assert anonymous.get("/api/v1/wallet/balances").status_code == 401


def test_openapi_schema_builds(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/wallet/transfers" in response.content
    assert b"/api/v1/wallet/beneficiaries/{id}/confirm" in response.content


_AMOUNT_SYNTAX = 'must be a decimal string such as "10.50".'


@pytest.mark.kyc_verified
@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("/api/v1/wallet/deposits", {}),
        ("/api/v1/wallet/transfers", {"to": "bob@example.com"}),
    ],
)
@pytest.mark.parametrize(
    "amount", ["100\u00a0", "\u0661\u0660\u0660", "\uff11\uff10\uff10", " 100", "+100"]
)
def test_amounts_outside_the_decimal_syntax_are_400(
    client, alice, bob, usd, url, extra, amount
):
    # given a verified, funded user; when an amount has a space, a foreign digit or
    # a sign the syntax does not allow
    fund(alice, usd, 100_000)
    response = _post(client, url, {"asset": "USD", "amount": amount, **extra})
    # then 400 invalid_amount naming the field, and nothing is written
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid_amount",
            "message": f"amount: {_AMOUNT_SYNTAX}",
            "details": {"amount": [_AMOUNT_SYNTAX]},
        }
    }
    assert not Deposit.objects.exists()
    assert not Transfer.objects.exists()


def test_unverified_user_can_neither_deposit_nor_transfer(client, alice, bob, usd):
    # given alice without KYC (funded by the ledger) and bob verified
    fund(alice, usd, 10_000)
    kyc_approve(user=bob)
    # when she deposits or sends over the API
    deposit = _post(client, "/api/v1/wallet/deposits", {"asset": "USD", "amount": "5"})
    transfer = _post(
        client,
        "/api/v1/wallet/transfers",
        {"to": "bob@example.com", "asset": "USD", "amount": "5"},
        key="k-2",
    )
    # then 403 kyc_required (the code withdrawals use) and nothing moves
    assert deposit.status_code == 403
    assert deposit.json() == {
        "error": {
            "code": "kyc_required",
            "message": "Deposits need a verified identity (KYC).",
            "details": {},
        }
    }
    assert transfer.status_code == 403
    assert transfer.json() == {
        "error": {
            "code": "kyc_required",
            "message": "Transfers need a verified identity (KYC).",
            "details": {},
        }
    }
    assert not Deposit.objects.exists()
    assert not Transfer.objects.exists()
    assert balances(alice) == {"USD": (10_000, 0)}


def test_a_transfer_to_an_unverified_user_is_refused_like_an_unknown_one(
    client, alice, bob, usd
):
    # given a verified sender and a recipient who exists but has no approved KYC
    kyc_approve(user=alice)
    fund(alice, usd, 10_000)
    # when she sends to him
    response = _post(
        client,
        "/api/v1/wallet/transfers",
        {"to": "bob@example.com", "asset": "USD", "amount": "5"},
    )
    # then 404 unknown_recipient, word for word what an unknown address gets
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "unknown_recipient",
            "message": "to: no verified user with this email.",
            "details": {"to": ["No verified user with this email."]},
        }
    }
    assert not Transfer.objects.exists()
    assert balances(bob) == {}


def test_sandbox_setting_lets_unverified_users_deposit_but_not_transfer(
    client, alice, bob, usd, settings
):
    # given a sandbox with WALLET_DEPOSITS_NEED_KYC off and alice without KYC
    settings.WALLET_DEPOSITS_NEED_KYC = False
    kyc_approve(user=bob)
    fund(alice, usd, 10_000)
    # when she deposits and sends
    deposit = _post(client, "/api/v1/wallet/deposits", {"asset": "USD", "amount": "5"})
    transfer = _post(
        client,
        "/api/v1/wallet/transfers",
        {"to": "bob@example.com", "asset": "USD", "amount": "5"},
        key="k-2",
    )
    # then the deposit opens and the transfer still needs KYC
    assert deposit.status_code == 201
    assert deposit.json()["status"] == "pending"
    assert transfer.status_code == 403
    assert transfer.json()["error"]["code"] == "kyc_required"
