"""The beneficiaries API, destination validation through it, and withdrawals with
`beneficiary` and `otp`."""

import itertools
import re

import pytest
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditCode, AuditEvent
from accounts.testing import api_client_for
from accounts.tests.conftest import totp_code
from kyc.testing import kyc_approve
from wallet.models import Beneficiary, Withdrawal
from wallet.tests.helpers import balances, fund, make_beneficiary

pytestmark = pytest.mark.django_db

URL = "/api/v1/wallet/beneficiaries"
_keys = itertools.count(1)


@pytest.fixture
def client(alice):
    return api_client_for(alice)


def _add(client, rail, destination, **extra):
    return client.post(
        URL,
        {"rail": rail, "destination": destination, **extra},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"b-{next(_keys)}",
    )


VALID = [
    ("bank_iban", "de89 3704 0044 0532 0130 00", "DE89370400440532013000"),
    ("bank_iban", "GB33 BUKB 2020 1555 5555 55", "GB33BUKB20201555555555"),
    ("bank_account_in", "50100012345678 hdfc0001234", "50100012345678 HDFC0001234"),
    ("bank_account_in", "SBIN0000001/123456789", "123456789 SBIN0000001"),
    ("upi", "Alice.S@OKHDFC", "alice.s@okhdfc"),
    ("upi", "9876543210@ybl", "9876543210@ybl"),
    # P2PKH, P2SH (base58check)
    ("bitcoin", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", None),
    ("bitcoin", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", None),
    # P2WPKH, P2WSH (bech32), upper case is the same address
    ("bitcoin", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", None),
    (
        "bitcoin",
        "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ",
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    ),
    (
        "bitcoin",
        "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
        None,
    ),
    # P2TR (bech32m)
    (
        "bitcoin",
        "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
        None,
    ),
    # EIP-55 checksummed, and all lower case (no checksum: stored checksummed)
    ("ethereum", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", None),
    (
        "ethereum",
        "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    ),
]


@pytest.mark.parametrize(("rail", "given", "stored"), VALID)
def test_valid_destinations_are_stored_normalized(client, rail, given, stored):
    response = _add(client, rail, given)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["rail"], body["destination"], body["status"]) == (
        rail,
        stored or given,
        "pending_confirmation",
    )


INVALID = [
    # wrong check digits; wrong length for the country; garbage
    ("bank_iban", "DE89370400440532013001", "not a valid IBAN (Invalid checksum"),
    ("bank_iban", "DE8937040044053201300", "not a valid IBAN"),
    ("bank_iban", "not-an-address !!", "not a valid IBAN"),
    # IFSC's fifth character must be 0; account too short; IFSC missing
    ("bank_account_in", "50100012345678 HDFC1001234", "give the account number"),
    ("bank_account_in", "12345678 HDFC0001234", "give the account number"),
    ("bank_account_in", "50100012345678", "give the account number"),
    ("upi", "alice", "not a valid UPI id"),
    ("upi", "alice@ok hdfc", "not a valid UPI id"),
    # base58 checksum off by one character; testnet bech32; bech32 checksum
    (
        "bitcoin",
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3",
        "not a valid Bitcoin mainnet address",
    ),
    (
        "bitcoin",
        "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx",
        "not a valid Bitcoin mainnet address",
    ),
    (
        "bitcoin",
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdr",
        "not a valid Bitcoin address (Invalid bech32 checksum)",
    ),
    # a taproot program with a bech32 (not bech32m) checksum
    (
        "bitcoin",
        "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusn5pxqu",
        "not a valid Bitcoin address",
    ),
    ("bitcoin", "not-an-address !!", "not a valid Bitcoin mainnet address"),
    # mixed case with a wrong EIP-55 checksum; too short; garbage
    (
        "ethereum",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
        "the address's EIP-55 checksum (its mixed case) is wrong",
    ),
    ("ethereum", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea", "not an Ethereum"),
    ("ethereum", "not-an-address !!", "not an Ethereum address"),
]


@pytest.mark.parametrize(("rail", "given", "message"), INVALID)
def test_invalid_destinations_are_400_naming_the_field(client, rail, given, message):
    response = _add(client, rail, given)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_destination"
    assert error["message"].startswith(f"destination: {message}")
    assert list(error["details"]) == ["destination"]
    assert error["details"]["destination"][0].startswith(message)
    assert not Beneficiary.objects.exists()


def test_unknown_rail_and_missing_fields_name_the_field(client):
    response = _add(client, "paypal", "me@example.com")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert list(response.json()["error"]["details"]) == ["rail"]
    response = client.post(
        URL, {"rail": "upi"}, format="json", HTTP_IDEMPOTENCY_KEY="b-missing"
    )
    assert response.json()["error"]["details"] == {
        "destination": ["This field is required."]
    }


def test_add_confirm_with_totp_list_and_remove(client, alice):
    device = TOTPDevice.objects.create(user=alice, name="A", confirmed=True)
    created = _add(client, "upi", "alice@okhdfc", label="UPI")
    assert created.status_code == 201
    bid = created.json()["id"]
    missing = client.post(f"{URL}/{bid}/confirm", {}, format="json")
    assert (missing.status_code, missing.json()["error"]["code"]) == (
        403,
        "otp_required",
    )
    assert missing.json()["error"]["details"] == {"otp": ["Required."]}
    wrong = client.post(f"{URL}/{bid}/confirm", {"otp": "12"}, format="json")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "otp_invalid")
    ok = client.post(
        f"{URL}/{bid}/confirm", {"otp": totp_code(device)}, format="json"
    ).json()
    assert (ok["status"], ok["usable"], ok["label"]) == ("confirmed", False, "UPI")
    assert ok["usable_from"] is not None
    listed = client.get(URL).json()["results"]
    assert [(b["id"], b["status"]) for b in listed] == [(bid, "confirmed")]
    assert client.delete(f"{URL}/{bid}").status_code == 204
    assert client.get(URL).json()["results"] == []
    assert client.get(f"{URL}/{bid}").json()["status"] == "removed"
    assert client.delete(f"{URL}/{bid}").status_code == 409


def test_add_is_idempotent_by_key_and_duplicates_are_409(client):
    payload = {"rail": "bank_iban", "destination": "DE89370400440532013000"}
    first = client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="same")
    replay = client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    other = client.post(
        URL,
        {**payload, "label": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="same",
    )
    assert other.status_code == 409
    dup = _add(client, "bank_iban", "de89 3704 0044 0532 0130 00")
    assert (dup.status_code, dup.json()["error"]["code"]) == (409, "beneficiary_exists")
    assert Beneficiary.objects.count() == 1


def test_confirm_by_emailed_token_once(
    client, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        bid = _add(client, "bitcoin", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy").json()["id"]
    [message] = mail.outbox
    link = re.search(
        r"http://testserver(/wallet/beneficiaries/confirm/(\S+)/)", message.body
    )
    token = link[2]
    ok = client.post(f"{URL}/{bid}/confirm", {"token": token}, format="json")
    assert ok.json()["status"] == "confirmed"
    again = client.post(f"{URL}/{bid}/confirm", {"token": token}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (
        409,
        "beneficiary_not_pending",
    )
    with django_capture_on_commit_callbacks(execute=True):
        other = _add(client, "upi", "ab@upi").json()["id"]
    foreign = client.post(f"{URL}/{other}/confirm", {"token": token}, format="json")
    forged = client.post(f"{URL}/{other}/confirm", {"token": "abc"}, format="json")
    for response in (foreign, forged):
        assert (response.status_code, response.json()["error"]["code"]) == (
            400,
            "confirmation_link_invalid",
        )
        assert list(response.json()["error"]["details"]) == ["token"]
    resend = client.post(f"{URL}/{other}/resend")
    assert resend.status_code == 200


def test_another_users_beneficiary_is_404_everywhere(client, alice, bob, usd):
    kyc_approve(user=alice)
    fund(alice, usd, 10_000)
    bobs = make_beneficiary(bob)
    assert client.get(f"{URL}/{bobs.pk}").status_code == 404
    assert client.delete(f"{URL}/{bobs.pk}").status_code == 404
    confirm = client.post(f"{URL}/{bobs.pk}/confirm", {"otp": "1"}, format="json")
    assert confirm.status_code == 404
    response = client.post(
        "/api/v1/wallet/withdrawals",
        {"asset": "USD", "amount": "1.00", "beneficiary": bobs.pk},
        format="json",
        HTTP_IDEMPOTENCY_KEY="w-bob",
    )
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found",
        "message": "beneficiary: no such beneficiary.",
        "details": {"beneficiary": ["Not found."]},
    }
    bobs.refresh_from_db()
    assert bobs.status == "confirmed"
    assert not Withdrawal.objects.exists()


def test_withdrawal_api_with_beneficiary_and_otp(client, alice, usd):
    kyc_approve(user=alice)
    fund(alice, usd, 10_000)
    to = make_beneficiary(alice)
    device = TOTPDevice.objects.create(user=alice, name="A", confirmed=True)
    payload = {"asset": "USD", "amount": "25.00", "beneficiary": to.pk}
    refused = client.post(
        "/api/v1/wallet/withdrawals", payload, format="json", HTTP_IDEMPOTENCY_KEY="w1"
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (
        403,
        "otp_required",
    )
    payload["otp"] = totp_code(device)
    created = client.post(
        "/api/v1/wallet/withdrawals", payload, format="json", HTTP_IDEMPOTENCY_KEY="w2"
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["beneficiary"], body["rail"], body["destination"]) == (
        to.pk,
        "bank_iban",
        "DE89370400440532013000",
    )
    # The same key and body replay the first answer (the code is not asked again).
    replay = client.post(
        "/api/v1/wallet/withdrawals", payload, format="json", HTTP_IDEMPOTENCY_KEY="w2"
    )
    assert (replay.status_code, replay.json()) == (201, body)
    assert balances(alice) == {"USD": (7_500, 2_500)}
    assert AuditEvent.objects.filter(code=AuditCode.WITHDRAWAL_CONFIRMED).count() == 1


def test_withdrawal_api_refuses_free_text_destinations(client, alice, usd):
    kyc_approve(user=alice)
    fund(alice, usd, 10_000)
    response = client.post(
        "/api/v1/wallet/withdrawals",
        {"asset": "USD", "amount": "1.00", "destination": "not-an-address !!"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="w-free",
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "beneficiary": ["This field is required."]
    }
