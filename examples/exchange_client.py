"""A small client for the exchange's REST API, signing each request with an API key.

The signature is written here from docs/api-keys.md alone (it does not import the
server's apikeys.signing), so the tests that run it against a live server check the
spec, not one implementation against itself. Standard library only, plus
`cryptography` for Ed25519 keys.

    client = ExchangeClient("https://exchange.example", "ak_...", secret="...")
    order = client.place_order("BTC-USD", "buy", quantity="0.10", price="90000")
    client.cancel_order(order["id"])
    print(client.balances(), client.rate_limit)

Or from a shell, the key from the environment (EXCHANGE_API_KEY and either
EXCHANGE_API_SECRET or EXCHANGE_ED25519_KEY, the path of a PEM private key):

    python examples/exchange_client.py https://exchange.example GET /api/v1/fills
    python examples/exchange_client.py https://exchange.example POST /api/v1/orders \
        '{"symbol": "BTC-USD", "side": "buy", "quantity": "0.10", "price": "90000"}'
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# --- The string to sign (docs/api-keys.md, "The string to sign") -----------------


def canonical_path(path: str) -> str:
    """Percent-decoded, then re-encoded one way: "%7E" and "~" sign the same."""
    return urllib.parse.quote(urllib.parse.unquote(path), safe="/-_.~")


def canonical_query(query: str) -> str:
    """Pairs decoded ("+" is a space), re-encoded, sorted by (name, value)."""
    pairs = []
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        pairs.append(
            (
                urllib.parse.quote(urllib.parse.unquote_plus(name), safe="-_.~"),
                urllib.parse.quote(urllib.parse.unquote_plus(value), safe="-_.~"),
            )
        )
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def string_to_sign(
    *, timestamp: str, method: str, path: str, query: str, body: bytes
) -> str:
    """Five lines: timestamp, METHOD, path, query, hex SHA-256 of the body."""
    return "\n".join(
        [
            timestamp,
            method.upper(),
            canonical_path(path),
            canonical_query(query),
            hashlib.sha256(body).hexdigest(),
        ]
    )


def sign_hmac(secret: str, message: str) -> str:
    """Lowercase hex HMAC-SHA256, keyed by the ASCII of the secret as shown."""
    key = secret.encode("ascii")
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def sign_ed25519(private_key: Ed25519PrivateKey, message: str) -> str:
    """Standard base64, with padding, of the 64-byte Ed25519 signature."""
    return base64.b64encode(private_key.sign(message.encode())).decode("ascii")


# --- The client -------------------------------------------------------------------


class ApiError(Exception):
    """A 4xx or 5xx answer: the status and the error body's code, message and
    details (the field names of a bad input)."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any]
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True)
class RateLimit:
    """The X-RateLimit-* headers of the last answer (docs/rate-limits.md)."""

    limit: int
    remaining: int
    reset: int  # seconds until the bucket refills


class ExchangeClient:
    """Signs every request with one key: an HMAC `secret` (the 43 characters shown
    once at creation) or an Ed25519 `private_key` (the server has its public half).

    A 429 is retried after its Retry-After, up to `max_retries` times, each try
    signed afresh (a new timestamp, so never a replay); when the last answer said
    no request is left, the next one waits for the bucket's reset first. `clock`
    and `sleep` are there for a test or a simulation to replace. One client per
    thread: it keeps the last timestamp and the last limits.
    """

    def __init__(
        self,
        base_url: str,
        key_id: str,
        *,
        secret: str | None = None,
        private_key: Ed25519PrivateKey | None = None,
        window_ms: int | None = None,
        max_retries: int = 3,
        timeout: float = 20.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if (secret is None) == (private_key is None):
            raise ValueError("Give either an HMAC secret or an Ed25519 private key.")
        self.base_url = base_url.rstrip("/")
        self.key_id = key_id
        self.secret = secret
        self.private_key = private_key
        self.window_ms = window_ms
        self.max_retries = max_retries
        self.timeout = timeout
        self.clock = clock
        self.sleep = sleep
        self.rate_limit: RateLimit | None = None
        self._wait_until = 0.0
        self._last_ms = 0

    # The generic calls: any endpoint, any method.

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return self.request("POST", path, body=body)

    def delete(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("DELETE", path, params=params)

    # The usual ones.

    def place_order(
        self,
        symbol: str,
        side: str,
        *,
        quantity: str,
        price: str | None = None,
        order_type: str = "limit",
        client_order_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Decimal strings, never floats. A `client_order_id` makes a retry safe:
        the same id and body answer with the first order."""
        body = {
            "symbol": symbol,
            "side": side,
            "type": order_type,
            "quantity": quantity,
        }
        if price is not None:
            body["price"] = price
        if client_order_id is not None:
            body["client_order_id"] = client_order_id
        return self.post("/api/v1/orders", {**body, **extra})

    def cancel_order(self, order_id: int) -> dict[str, Any]:
        return self.delete(f"/api/v1/orders/{order_id}")

    def open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        params = {"open": "true", **({"symbol": symbol} if symbol else {})}
        return self.get_all("/api/v1/orders", params)

    def fills(self, **filters: Any) -> list[dict[str, Any]]:
        """Every fill, newest first (all pages): symbol, order_id, side..."""
        return self.get_all("/api/v1/fills", filters)

    def balances(self) -> dict[str, dict[str, Any]]:
        """Per asset code: available, held and total as decimal strings."""
        return {row["asset"]: row for row in self.get("/api/v1/wallet/balances")}

    def stream_ticket(self) -> str:
        """A single-use ticket for /ws/user/?ticket=..., bound to this key."""
        return str(self.post("/api/v1/stream-tickets")["ticket"])

    def get_all(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """All pages of a cursor-paginated list, following `next`."""
        rows: list[dict[str, Any]] = []
        page = self.get(path, params)
        rows.extend(page["results"])
        while page["next"]:
            parts = urllib.parse.urlsplit(page["next"])
            page = self.get(parts.path, dict(urllib.parse.parse_qsl(parts.query)))
            rows.extend(page["results"])
        return rows

    # The signing and the sending.

    def signed_headers(
        self, method: str, path: str, query: str, body: bytes
    ) -> dict[str, str]:
        # strictly increasing: two equal requests in one millisecond would
        # otherwise carry one signature, and the second be refused as a replay
        self._last_ms = max(int(self.clock() * 1000), self._last_ms + 1)
        timestamp = str(self._last_ms)
        message = string_to_sign(
            timestamp=timestamp, method=method, path=path, query=query, body=body
        )
        if self.secret is not None:
            signature = sign_hmac(self.secret, message)
        else:
            assert self.private_key is not None
            signature = sign_ed25519(self.private_key, message)
        headers = {
            "X-Api-Key": self.key_id,
            "X-Api-Timestamp": timestamp,
            "X-Api-Signature": signature,
        }
        if self.window_ms is not None:
            headers["X-Api-Window"] = str(self.window_ms)
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send, signed; the decoded JSON answer, or ApiError."""
        query = urllib.parse.urlencode(params or {}, quote_via=urllib.parse.quote)
        data = json.dumps(body).encode() if body is not None else b""
        for attempt in range(self.max_retries + 1):
            self.sleep(max(0.0, self._wait_until - self.clock()))
            status, headers, payload = self._send(method, path, query, data)
            self._read_rate_limit(headers)
            if status == 429 and attempt < self.max_retries:
                # Retry-After is the server's word for this refusal: it wins over
                # the reset of whichever bucket the headers named
                retry_after = float(headers.get("Retry-After") or 1)
                self._wait_until = self.clock() + retry_after
                continue
            if status >= 400:
                error = (payload or {}).get("error") or {}
                raise ApiError(
                    status,
                    error.get("code", "http_error"),
                    error.get("message", ""),
                    error.get("details", {}),
                )
            return payload
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _send(
        self, method: str, path: str, query: str, data: bytes
    ) -> tuple[int, Message, Any]:
        request = urllib.request.Request(  # noqa: S310 - the caller's base URL
            self.base_url + path + (f"?{query}" if query else ""),
            data=data or None,
            method=method,
            headers={
                "Accept": "application/json",
                **({"Content-Type": "application/json"} if data else {}),
                **self.signed_headers(method, path, query, data),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, response.headers, _json(response.read())
        except urllib.error.HTTPError as error:
            return error.code, error.headers, _json(error.read())

    def _read_rate_limit(self, headers: Message) -> None:
        if "X-RateLimit-Remaining" not in headers:
            return
        self.rate_limit = RateLimit(
            limit=int(headers["X-RateLimit-Limit"]),
            remaining=int(headers["X-RateLimit-Remaining"]),
            reset=int(headers["X-RateLimit-Reset"]),
        )
        if self.rate_limit.remaining <= 0:
            self._wait_until = self.clock() + self.rate_limit.reset


def _json(raw: bytes) -> Any:
    return json.loads(raw) if raw else None


def main(argv: list[str] | None = None) -> int:
    """One signed request from the command line; the answer (or error) as JSON."""
    parser = argparse.ArgumentParser(description="One signed API request.")
    parser.add_argument("base_url")
    parser.add_argument("method", choices=["GET", "POST", "PATCH", "DELETE"])
    parser.add_argument("path", help="with its query, if any: /api/v1/fills?limit=5")
    parser.add_argument("body", nargs="?", help="a JSON object")
    args = parser.parse_args(argv)
    private_key = None
    if key_path := os.environ.get("EXCHANGE_ED25519_KEY"):
        with open(key_path, "rb") as pem:
            loaded = serialization.load_pem_private_key(pem.read(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            parser.error("EXCHANGE_ED25519_KEY is not an Ed25519 private key")
        private_key = loaded
    client = ExchangeClient(
        args.base_url,
        os.environ["EXCHANGE_API_KEY"],
        secret=None if private_key else os.environ["EXCHANGE_API_SECRET"],
        private_key=private_key,
    )
    path, _, query = args.path.partition("?")
    try:
        answer = client.request(
            args.method,
            path,
            params=dict(urllib.parse.parse_qsl(query)),
            body=json.loads(args.body) if args.body else None,
        )
    except ApiError as error:
        print(json.dumps({"status": error.status, "code": error.code}))
        print(error.message, file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
