"""The example client (examples/exchange_client.py) against docs/api-keys.md and a
live server.

The client signs from the page alone, the server from apikeys.signing: the page's
worked examples must come out of both, the page's excerpt of the client must be the
client's code, and the client must trade through a real server with both kinds of
key (a sell and a crossing buy, the fills, the balances to the unit, a cancel, the
ledger verified) and read the server's refusals by their codes.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accounts.services import backup_codes_ensure
from accounts.testing import make_user
from apikeys import signing
from apikeys.models import ApiKey
from apikeys.services import ApiKeyIssued, api_key_create, api_key_revoke
from examples.exchange_client import (
    ApiError,
    ExchangeClient,
    RateLimit,
    sign_ed25519,
    sign_hmac,
    string_to_sign,
)
from kyc.testing import kyc_approve
from trading.tests.helpers import make_btc_usd
from wallet.models import Asset
from wallet.tests.helpers import fund
from wallet.verification import ledger_problems

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "api-keys.md").read_text()
CLIENT = (ROOT / "examples" / "exchange_client.py").read_text()


def _block(name: str) -> str:
    """The fenced block right after `<!-- example: name -->` (or excerpt)."""
    match = re.search(
        rf"<!-- {re.escape(name)} -->\n```[a-z]*\n(.*?)\n```", DOC, re.DOTALL
    )
    assert match, f"docs/api-keys.md has no block {name!r}"
    return match.group(1)


def _fields(name: str) -> dict[str, str]:
    """A `name  value` block as a dict (a name alone is an empty value)."""
    fields = {}
    for line in _block(f"example: {name}").splitlines():
        key, _, value = line.partition(" ")
        fields[key] = value.strip()
    return fields


def _signature(name: str) -> str:
    return _block(f"example: {name} signature").removeprefix("X-Api-Signature: ")


@pytest.mark.parametrize("name", ["hmac-order", "hmac-fills"])
def test_the_docs_hmac_examples_are_what_client_and_server_sign(name):
    given = _fields(name)
    parts = {
        "timestamp": given["timestamp"],
        "method": given["method"],
        "path": given["path"],
        "query": given["query"],
        "body": given["body"].encode(),
    }

    client_string = string_to_sign(**parts)
    server_string = signing.string_to_sign(**parts)

    assert client_string == server_string == _block(f"example: {name} string")
    expected = _signature(name)
    assert sign_hmac(given["secret"], client_string) == expected
    assert signing.hmac_sign(given["secret"], server_string) == expected
    assert signing.hmac_verify(given["secret"], client_string, expected)


def test_the_docs_ed25519_example_is_what_client_and_server_sign():
    seed = re.search(r"base64 `([A-Za-z0-9+/=]{44})`; its public key", DOC)
    public = re.search(r"raw 32 bytes, is `([A-Za-z0-9+/=]{44})`", DOC)
    assert seed and public
    private_key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed[1]))
    message = _block("example: hmac-order string")
    expected = _signature("ed25519-order")

    assert sign_ed25519(private_key, message) == expected
    assert signing.ed25519_sign(private_key, message) == expected
    assert signing.ed25519_verify(base64.b64decode(public[1]), message, expected)


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/orders", ""),
        ("/api/v1/a%7eb", "b=2&a=1&a=0"),
        ("/api/v1/a b", "flag&q=a+b&r=a%20b"),
        ("/api/v1/caf%C3%A9", "q=%7E&s=a/b&&k=v=w&"),
        ("/api/v1/a%2Fb", "created_after=2026-01-01T00:00:00%2B01:00"),
    ],
)
def test_client_and_server_canonicalise_alike(path, query):
    """The edges of the two canonical forms: the spec read twice, one answer."""
    parts = {"timestamp": "1", "method": "get", "path": path, "query": query}
    body = "caf\u00e9".encode()

    assert string_to_sign(**parts, body=body) == signing.string_to_sign(
        **parts, body=body
    )


def test_the_docs_excerpt_is_the_clients_signing_code():
    excerpt = _block("excerpt: examples/exchange_client.py signing")
    start = CLIENT.index("def canonical_path")
    end = CLIENT.index("# --- The client")
    assert excerpt.strip() == CLIENT[start:end].strip()


# --- Back-off: a scripted HTTP peer ------------------------------------------------


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers from `script` in turn and records each request's headers."""

    script: list[tuple[int, dict[str, str]]]
    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers))
        status, headers = self.script.pop(0)
        body = (
            json.dumps({"error": {"code": "throttled", "message": "Slow down."}})
            if status == 429
            else json.dumps([])
        ).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, type[_Scripted]]]:
    handler = type("Handler", (_Scripted,), {"script": [], "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


class _FakeTime:
    """A clock that sleeping moves forward: the waits are recorded, not slept."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept.append(seconds)
            self.now += seconds


def test_a_429_is_retried_after_retry_after_and_signed_afresh(scripted):
    url, handler = scripted
    limits = {"X-RateLimit-Limit": "10", "X-RateLimit-Reset": "7"}
    handler.script += [
        (429, {"Retry-After": "3", **limits, "X-RateLimit-Remaining": "0"}),
        (200, {**limits, "X-RateLimit-Remaining": "9"}),
    ]
    fake = _FakeTime(1_767_225_600.0)
    client = ExchangeClient(
        url, "ak_test", secret="s" * 43, clock=fake.clock, sleep=fake.sleep
    )

    assert client.balances() == {}

    # the Retry-After (3 s), not the reset (7 s) the headers named
    assert fake.slept == [3.0]
    first, second = handler.seen
    assert first["X-Api-Timestamp"] == "1767225600000"
    assert second["X-Api-Timestamp"] == "1767225603000"
    assert first["X-Api-Signature"] != second["X-Api-Signature"]
    assert client.rate_limit == RateLimit(limit=10, remaining=9, reset=7)


def test_no_request_left_waits_for_the_reset_before_the_next(scripted):
    url, handler = scripted
    limits = {"X-RateLimit-Limit": "10", "X-RateLimit-Reset": "7"}
    handler.script += [
        (200, {**limits, "X-RateLimit-Remaining": "0"}),
        (200, {**limits, "X-RateLimit-Remaining": "9"}),
    ]
    fake = _FakeTime(1_767_225_600.0)
    client = ExchangeClient(
        url, "ak_test", secret="s" * 43, clock=fake.clock, sleep=fake.sleep
    )

    client.balances()
    assert fake.slept == []
    client.balances()

    assert fake.slept == [7.0]
    assert handler.seen[1]["X-Api-Timestamp"] == "1767225607000"


def test_429s_beyond_max_retries_are_raised(scripted):
    url, handler = scripted
    handler.script += [(429, {"Retry-After": "1"})] * 3
    fake = _FakeTime(1_767_225_600.0)
    client = ExchangeClient(
        url,
        "ak_test",
        secret="s" * 43,
        max_retries=2,
        clock=fake.clock,
        sleep=fake.sleep,
    )

    with pytest.raises(ApiError) as raised:
        client.balances()

    assert (raised.value.status, raised.value.code) == (429, "throttled")
    assert fake.slept == [1.0, 1.0]
    assert len(handler.seen) == 3


# --- Through a live server, both kinds of key --------------------------------------


def _trader(email: str, **funds: int):
    """A KYC-approved user with backup codes (the second factor a key needs),
    funded in units of each asset."""
    user = make_user(email=email)
    kyc_approve(user=user)
    for code, units in funds.items():
        fund(user, Asset.objects.get(code=code), units)
    return user


def _key(user, kind: str, scopes: list[str], **extra) -> ApiKeyIssued:
    otp = backup_codes_ensure(user=user, count=1)[0]
    return api_key_create(user=user, kind=kind, scopes=scopes, otp=otp, **extra)


def _hmac_client(base_url: str, user, scopes: list[str], **options) -> ExchangeClient:
    issued = _key(user, "hmac", scopes)
    assert issued.secret is not None
    return ExchangeClient(base_url, issued.key.key_id, secret=issued.secret, **options)


def _ed25519_client(base_url: str, user, scopes: list[str]) -> ExchangeClient:
    private_key = Ed25519PrivateKey.generate()
    public_pem = (
        private_key.public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )
    issued = _key(user, "ed25519", scopes, public_key=public_pem)
    assert issued.secret is None
    return ExchangeClient(base_url, issued.key.key_id, private_key=private_key)


@pytest.mark.django_db(transaction=True)
def test_trading_through_a_live_server_with_both_kinds_of_key(live_server):
    make_btc_usd()
    # given a seller with 1 BTC on an HMAC key, a buyer with 100,000 USD on Ed25519
    seller = _trader("seller@example.com", BTC=100_000_000)
    buyer = _trader("buyer@example.com", USD=10_000_000)
    maker = _hmac_client(live_server.url, seller, ["read", "trade"])
    taker = _ed25519_client(live_server.url, buyer, ["read", "trade"])

    # when the seller rests 0.50 BTC at 90,000 and the buyer takes 0.20 of it
    sell = maker.place_order("BTC-USD", "sell", quantity="0.50", price="90000")
    buy = taker.place_order(
        "BTC-USD", "buy", quantity="0.20", price="90000", client_order_id="take-1"
    )

    assert sell["status"] == "open"
    assert (buy["status"], buy["filled_quantity"]) == ("filled", "0.20000000")
    # (a retry with the same client_order_id answers with the same order)
    again = taker.place_order(
        "BTC-USD", "buy", quantity="0.20", price="90000", client_order_id="take-1"
    )
    assert again["id"] == buy["id"]
    # then each sees its side of the one trade (a query with ":" to encode)
    [bought] = taker.fills(symbol="BTC-USD", created_after="2026-01-01T00:00:00Z")
    [sold] = maker.fills()
    assert bought["trade_id"] == sold["trade_id"]
    assert (bought["order_id"], bought["side"], bought["liquidity"]) == (
        buy["id"],
        "buy",
        "taker",
    )
    assert (sold["order_id"], sold["side"], sold["liquidity"]) == (
        sell["id"],
        "sell",
        "maker",
    )
    # each pays in what it receives: the taker 20 bps of 0.20 BTC, the maker
    # 10 bps of 18,000 USD
    assert _fill(bought) == ("0.20000000", "18000.00", "0.00040000", "BTC")
    assert _fill(sold) == ("0.20000000", "18000.00", "18.00", "USD")
    # and the balances to the unit: the rest of the sell still held
    seller_balances = maker.balances()
    assert _amounts(seller_balances["BTC"]) == ("0.50000000", "0.30000000")
    assert _amounts(seller_balances["USD"]) == ("17982.00", "0.00")
    buyer_balances = taker.balances()
    assert _amounts(buyer_balances["BTC"]) == ("0.19960000", "0.00000000")
    assert _amounts(buyer_balances["USD"]) == ("82000.00", "0.00")

    # when the seller cancels the rest
    cancelled = maker.cancel_order(sell["id"])

    assert (cancelled["status"], cancelled["filled_quantity"]) == (
        "cancelled",
        "0.20000000",
    )
    assert _amounts(maker.balances()["BTC"]) == ("0.80000000", "0.00000000")
    assert maker.open_orders("BTC-USD") == []
    # when the buyer rests a bid and cancels it, the hold comes back to the unit
    bid = taker.place_order("BTC-USD", "buy", quantity="0.10", price="80000")
    assert _amounts(taker.balances()["USD"]) == ("74000.00", "8000.00")
    assert taker.cancel_order(bid["id"])["status"] == "cancelled"
    assert _amounts(taker.balances()["USD"]) == ("82000.00", "0.00")
    # the client follows the cursor: two pages of one order, newest first
    pages = taker.get_all("/api/v1/orders", {"limit": 1})
    assert [order["id"] for order in pages] == [bid["id"], buy["id"]]
    # and a stream ticket comes with either key
    assert len(taker.stream_ticket()) > 20
    # the ledger balances: every journal, hold and balance
    assert ledger_problems() == []


def _send(url: str, headers: dict[str, str]) -> tuple[int, str | None]:
    """The status and error code of a GET with exactly these headers."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["error"]["code"]


def _amounts(row: dict) -> tuple[str, str]:
    return row["available"], row["held"]


def _fill(row: dict) -> tuple[str, str, str, str]:
    return row["quantity"], row["quote_amount"], row["fee"], row["fee_asset"]


@pytest.mark.django_db(transaction=True)
def test_the_server_refuses_a_replay_a_key_without_trade_and_a_revoked_key(
    live_server,
):
    make_btc_usd()
    user = _trader("reader@example.com", USD=10_000_000)
    reader = _hmac_client(live_server.url, user, ["read"])
    # one request signed by the client, sent twice as captured
    headers = reader.signed_headers("GET", "/api/v1/wallet/balances", "", b"")

    first = _send(f"{live_server.url}/api/v1/wallet/balances", headers)
    again = _send(f"{live_server.url}/api/v1/wallet/balances", headers)

    assert first[0] == 200
    assert again == (401, "signature_replayed")
    # while the client itself never repeats a signature, even with a clock that
    # stands still
    now = time.time()
    frozen = _hmac_client(live_server.url, user, ["read"], clock=lambda: now)
    assert frozen.balances() == frozen.balances()

    with pytest.raises(ApiError) as refused:
        reader.place_order("BTC-USD", "buy", quantity="0.10", price="90000")
    assert (refused.value.status, refused.value.code) == (403, "scope_missing")
    assert reader.open_orders() == []

    # a revoked key is refused from its next request
    api_key_revoke(key=ApiKey.objects.get(key_id=reader.key_id), user=user)
    with pytest.raises(ApiError) as revoked:
        reader.balances()
    assert (revoked.value.status, revoked.value.code) == (401, "api_key_revoked")


@pytest.mark.django_db(transaction=True)
def test_the_command_line_signs_with_either_kind_of_key(live_server, tmp_path):
    make_btc_usd()
    user = _trader("shell@example.com", USD=10_000_000)
    hmac_key = _key(user, "hmac", ["read"])
    private_key = Ed25519PrivateKey.generate()
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    raw_public = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    ed_key = _key(
        user, "ed25519", ["read"], public_key=base64.b64encode(raw_public).decode()
    )

    balances = _shell(
        live_server.url,
        "GET",
        "/api/v1/wallet/balances",
        EXCHANGE_API_KEY=hmac_key.key.key_id,
        EXCHANGE_API_SECRET=hmac_key.secret or "",
    )
    refused = _shell(
        live_server.url,
        "POST",
        "/api/v1/orders",
        '{"symbol": "BTC-USD", "side": "buy", "quantity": "0.10", "price": "90000"}',
        EXCHANGE_API_KEY=ed_key.key.key_id,
        EXCHANGE_ED25519_KEY=str(pem),
    )
    fills = _shell(
        live_server.url,
        "GET",
        "/api/v1/fills?symbol=BTC-USD&limit=5",
        EXCHANGE_API_KEY=ed_key.key.key_id,
        EXCHANGE_ED25519_KEY=str(pem),
    )

    assert balances.returncode == 0, balances.stderr
    usd = next(row for row in json.loads(balances.stdout) if row["asset"] == "USD")
    assert usd["available"] == "100000.00"
    assert refused.returncode == 1
    assert json.loads(refused.stdout) == {"status": 403, "code": "scope_missing"}
    assert fills.returncode == 0, fills.stderr
    assert json.loads(fills.stdout)["results"] == []


def _shell(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "exchange_client.py"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
