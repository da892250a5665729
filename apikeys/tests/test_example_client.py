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
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from apikeys import signing
from examples.exchange_client import (
    ApiError,
    ExchangeClient,
    RateLimit,
    sign_ed25519,
    sign_hmac,
    string_to_sign,
)

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
    time = _FakeTime(1_767_225_600.0)
    client = ExchangeClient(
        url, "ak_test", secret="s" * 43, clock=time.clock, sleep=time.sleep
    )

    assert client.balances() == {}

    # the Retry-After (3 s), not the reset (7 s) the headers named
    assert time.slept == [3.0]
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
    time = _FakeTime(1_767_225_600.0)
    client = ExchangeClient(
        url, "ak_test", secret="s" * 43, clock=time.clock, sleep=time.sleep
    )

    client.balances()
    assert time.slept == []
    client.balances()

    assert time.slept == [7.0]
    assert handler.seen[1]["X-Api-Timestamp"] == "1767225607000"


def test_429s_beyond_max_retries_are_raised(scripted):
    url, handler = scripted
    handler.script += [(429, {"Retry-After": "1"})] * 3
    time = _FakeTime(1_767_225_600.0)
    client = ExchangeClient(
        url,
        "ak_test",
        secret="s" * 43,
        max_retries=2,
        clock=time.clock,
        sleep=time.sleep,
    )

    with pytest.raises(ApiError) as raised:
        client.balances()

    assert (raised.value.status, raised.value.code) == (429, "throttled")
    assert time.slept == [1.0, 1.0]
    assert len(handler.seen) == 3
