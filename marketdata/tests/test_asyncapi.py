"""docs/asyncapi.yaml stays true to the WebSocket consumers.

The document is read as YAML and checked as an AsyncAPI 3.0 document (required
keys, every operation's channel and messages resolve); the message types, error
codes, client ops and close codes the code can emit are read from the code and
must be exactly the documented ones; and a real flow through the ASGI
application (orders placed and matched, pings, a resync request, bad messages, a
replay) has every message it receives validated against its documented payload
schema, and covers every documented server message.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from jsonschema import Draft7Validator

from config.asgi import application
from marketdata import consumers
from marketdata.models import UserEvent
from marketdata.tests.helpers import make_market, place
from marketdata.tests.test_consumers import receive, ticket_for

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
# The modules that build what the streams send.
SOURCES = (
    "consumers.py",
    "formats.py",
    "hub.py",
    "messages.py",
    "selectors.py",
    "services.py",
)
TIMEOUT = 5


def _document() -> dict:
    return yaml.safe_load(DOCUMENT.read_text())


def _resolve(document: dict, ref: str) -> dict:
    assert ref.startswith("#/"), ref
    node = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _deref(document: dict, node: dict) -> dict:
    while "$ref" in node:
        node = _resolve(document, node["$ref"])
    return node


def _const(schema: dict, key: str) -> str:
    return schema["properties"][key]["const"]


def _payloads(document: dict, channel: str, action: str) -> dict[str, dict]:
    """The payload schemas of a channel's operation, by their `type` (server
    messages) or `op` (client messages)."""
    key = "type" if action == "receive" else "op"
    found = {}
    for operation in document["operations"].values():
        if _deref(document, operation["channel"]) is not document["channels"][
            channel
        ] or (operation["action"] != action):
            continue
        for message in operation["messages"]:
            payload = _deref(document, _deref(document, message)["payload"])
            found[_const(payload, key)] = payload
    return found


def _batch_items(document: dict) -> dict[str, dict]:
    batch = document["components"]["schemas"]["Batch"]
    items = batch["properties"]["messages"]["items"]["oneOf"]
    return {
        _const(schema, "type"): schema
        for schema in (_deref(document, item) for item in items)
    }


def _validator(document: dict, schema: dict) -> Draft7Validator:
    # The document's components as the root, so its "#/components/..." refs resolve.
    root = {**schema, "components": document["components"]}
    Draft7Validator.check_schema(root)
    return Draft7Validator(root, format_checker=Draft7Validator.FORMAT_CHECKER)


def _source(name: str) -> str:
    return (ROOT / "marketdata" / name).read_text()


# --- The document ---------------------------------------------------------------


def test_the_document_is_an_asyncapi_3_description_whose_references_resolve():
    # Given the committed document
    document = _document()
    # Then it has AsyncAPI 3.0's required keys and the two streams
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert set(document["channels"]) == {"market", "user"}
    assert document["channels"]["market"]["address"] == "/ws/market/{symbol}/"
    assert set(document["channels"]["market"]["parameters"]) == {"symbol"}
    assert document["channels"]["user"]["address"] == "/ws/user/"
    # and every $ref anywhere in it points at something
    refs: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            refs.extend([node["$ref"]] if "$ref" in node else [])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert len(refs) > 50
    for ref in refs:
        assert isinstance(_resolve(document, ref), dict), ref
    # and each operation sends or receives on a channel, messages of that channel
    assert {
        (name, operation["action"])
        for name, operation in document["operations"].items()
    } == {
        ("receiveMarket", "receive"),
        ("sendMarket", "send"),
        ("receiveUser", "receive"),
        ("sendUser", "send"),
    }
    for operation in document["operations"].values():
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/")
    # and every message has a payload that is a valid schema, and valid examples
    for name, message in document["components"]["messages"].items():
        payload = _deref(document, message["payload"])
        validator = _validator(document, payload)
        assert message["examples"], name
        for example in message["examples"]:
            validator.validate(example["payload"])


def test_every_type_the_code_sends_is_documented_and_nothing_else():
    document = _document()
    # Given the message types written in the modules that build stream messages
    # (dict literals and pre-encoded JSON text alike), and the stored user events
    emitted = set()
    for name in SOURCES:
        emitted |= set(re.findall(r'"type":\s*"([a-z_]+)"', _source(name)))
    emitted |= set(UserEvent.Type.values)
    # When the document's server messages are listed (batch items included)
    documented = (
        set(_payloads(document, "market", "receive"))
        | set(_payloads(document, "user", "receive"))
        | set(_batch_items(document))
    )
    # Then they are the same set
    assert emitted == documented
    assert documented == {
        "snapshot",
        "batch",
        "status",
        "phase",
        "indicative",
        "level",
        "trade",
        "ticker",
        "candle",
        "ping",
        "pong",
        "error",
        "auth",
        "order",
        "fill",
        "balance",
        "notification",
    }


def test_error_codes_client_ops_and_close_codes_are_the_documented_ones():
    document = _document()
    # Given the error codes, client ops and close codes of the consumers
    codes = set(re.findall(r'_error\(\s*"([a-z_]+)"', _source("consumers.py")))
    closes = {
        value
        for name, value in vars(consumers).items()
        if name.startswith("CLOSE_") and isinstance(value, int)
    }
    # Then the error payload's enum is exactly those codes
    error = document["components"]["schemas"]["Error"]
    assert set(error["properties"]["code"]["enum"]) == codes
    assert len(codes) == 8
    # and each channel's client messages are exactly its consumer's ops
    assert set(_payloads(document, "market", "send")) == set(
        consumers.MarketConsumer.ops
    )
    assert set(_payloads(document, "user", "send")) == set(consumers.UserConsumer.ops)
    # and each close code (and 1011) is in the close code table
    table = set(
        int(code)
        for code in re.findall(
            r"^\s*\| (\d{4}) \|", document["info"]["description"], re.M
        )
    )
    assert table == closes | {1011} == {4401, 4404, 1011}
    assert "code=1011" in _source("consumers.py")


def test_the_document_is_served_at_api_asyncapi_yaml(db):
    # When the document is fetched from the site
    response = Client().get("/api/asyncapi.yaml")
    # Then it is the committed file, as YAML
    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    assert b"".join(response.streaming_content) == DOCUMENT.read_bytes()


# --- A real flow, every message validated ---------------------------------------


class Recorder:
    """Every message received on one channel, validated against its schema."""

    def __init__(self, document: dict, channel: str) -> None:
        self.validators = {
            kind: _validator(document, schema)
            for kind, schema in _payloads(document, channel, "receive").items()
        }
        self.types: set[str] = set()
        self.count = 0

    def check(self, message: dict) -> dict:
        self.validators[message["type"]].validate(message)
        self.types.add(message["type"])
        self.count += 1
        for item in message.get("messages", []):  # a batch: its items too
            self.types.add(item["type"])
        return message

    async def receive(self, comm) -> dict:
        return self.check(await receive(comm))

    async def until(self, comm, done) -> None:
        while not done(self):
            await self.receive(comm)


def _volatility_band() -> None:
    """BTC-USD stops continuous trading on a fill 1% or more from the last."""
    from calendars.services import instrument_calendar_set
    from trading.models import Instrument

    instrument_calendar_set(
        instrument=Instrument.objects.get(symbol="BTC-USD"),
        calendar=None,
        volatility_band_bps=100,
        volatility_call_seconds=600,
        volatility_random_seconds=0,
        acting_user=None,
    )


def _halt() -> None:
    from trading.models import Instrument
    from trading.services import instrument_set_status

    instrument_set_status(
        instrument=Instrument.objects.get(symbol="BTC-USD"),
        status=Instrument.Status.HALTED,
        reason="Exchange maintenance",
    )


async def _connect(path: str) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, path)
    connected, _ = await comm.connect()
    assert connected
    return comm


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_real_flow_sends_only_documented_messages_and_all_of_them(settings):
    document = _document()
    settings.MARKETDATA_PING_INTERVAL_SECONDS = 0.3  # a ping within the test
    # Given a market with a bid and an offer, and its stream
    _, buyer, seller = await database_sync_to_async(make_market)()
    await database_sync_to_async(place)(seller, "sell", "101", "0.5")
    await database_sync_to_async(place)(buyer, "buy", "99", "1")
    market = Recorder(document, "market")
    user = Recorder(document, "user")
    market_comm = await _connect("/ws/market/BTC-USD/")
    snapshot = await market.receive(market_comm)
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == 2
    # and both users' streams, authenticated by tickets
    buyer_comm = await _connect(f"/ws/user/?ticket={await ticket_for(buyer)}")
    seller_comm = await _connect("/ws/user/")
    await seller_comm.send_json_to({"op": "auth", "ticket": await ticket_for(seller)})
    for comm in (buyer_comm, seller_comm):
        assert await user.receive(comm) == {"type": "auth", "ok": True}

    # When an offer is added and a buy order takes part of the best offer
    await database_sync_to_async(place)(seller, "sell", "103", "0.1")
    await database_sync_to_async(place)(buyer, "buy", "101", "0.2")
    # and, with a volatility band, a buy that would print 2% above the last
    # trade starts a call where it rests crossed with the offer at 103
    await database_sync_to_async(_volatility_band)()
    await database_sync_to_async(place)(buyer, "buy", "103", "0.5")
    # and a client asks for a snapshot, pings, and sends what it must not
    for comm in (market_comm, buyer_comm):
        await comm.send_json_to({"op": "ping"})
        await comm.send_to(text_data="not json")
    await market_comm.send_json_to({"op": "snapshot"})
    # and an operator halts the instrument
    await database_sync_to_async(_halt)()

    # Then the market stream sends a batch with a level, a trade, a ticker and
    # candles, the call's phase and indicative price, a snapshot on request,
    # a pong, an error, a ping and the status change, all as documented
    await market.until(
        market_comm,
        lambda r: (
            {"level", "trade", "ticker", "candle", "pong", "error", "ping", "status"}
            | {"phase", "indicative"}
            <= r.types
        ),
    )
    # and the users get their orders, fills and balances, a pong and an error
    for comm in (buyer_comm, seller_comm):
        seen: set[str] = set()
        while not {"order", "fill", "balance"} <= seen:
            seen.add((await user.receive(comm))["type"])
    await user.until(buyer_comm, lambda r: {"pong", "error"} <= r.types)
    # and a replay from the start sends the stored events in the same shapes
    replay = await _connect(f"/ws/user/?ticket={await ticket_for(buyer)}&since_id=0")
    replayed = []
    while (message := await user.receive(replay))["type"] != "auth":
        replayed.append(message["type"])
    assert {"order", "fill", "balance"} <= set(replayed)

    # So every server message the document lists was sent and matched its schema
    documented = (
        set(_payloads(document, "market", "receive"))
        | set(_batch_items(document))
        | set(_payloads(document, "user", "receive"))
    )
    assert market.types | user.types == documented
    for comm in (market_comm, buyer_comm, seller_comm, replay):
        await comm.disconnect()


def test_a_message_outside_the_document_fails_validation():
    # Given the documented level message, with a field the server does not send
    document = _document()
    level = _batch_items(document)["level"]
    validator = _validator(document, level)
    message = {"type": "level", "seq": 3, "side": "buy", "price": "1.00"}
    # Then a missing field, an extra field or a float price is refused
    assert not validator.is_valid(message)
    assert not validator.is_valid({**message, "quantity": "1", "extra": 1})
    assert not validator.is_valid({**message, "quantity": 1.0})
    assert validator.is_valid({**message, "quantity": "0.00000000"})
