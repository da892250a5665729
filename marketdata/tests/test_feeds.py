"""Feed adapters: Binance message parsing (recorded frames, malformed ones), the
connection loop against a fake socket, replay timing on an injected clock."""

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosedError

from marketdata.feeds import (
    BinanceTradeFeed,
    FeedError,
    ReferencePrice,
    ReplayFeed,
    StaticFeed,
    feed_from_spec,
)
from marketdata.feeds.binance import Backoff, binance_symbol, parse_message
from marketdata.feeds.replay import DEMO_SAMPLE, SAMPLES_DIR, parse_record

SYMBOLS = {"BTCUSDT": "BTC-USD", "ETHUSDT": "ETH-USD"}


class FakeClock:
    """Time that moves only when someone sleeps; records every sleep."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds
        await asyncio.sleep(0)


async def collect(stream, limit=10_000):
    out = []
    async for item in stream:
        out.append(item)
        if len(out) >= limit:
            break
    return out


def run(coro):
    return asyncio.run(coro)


# --- Binance parsing -----------------------------------------------------------------


def test_recorded_binance_frames_parse_to_reference_prices():
    lines = (SAMPLES_DIR / "binance_trades.jsonl").read_text().splitlines()
    parsed = [parse_message(line, SYMBOLS) for line in lines]
    prices = [p for p in parsed if p is not None]
    assert prices == [
        ReferencePrice(
            "BTC-USD",
            Decimal("98712.01000000"),
            datetime(2024, 11, 22, 0, 0, 0, 11000, tzinfo=UTC),
            "binance:BTCUSDT",
        ),
        ReferencePrice(
            "BTC-USD",
            Decimal("98712.02000000"),
            datetime(2024, 11, 22, 0, 0, 0, 109000, tzinfo=UTC),
            "binance:BTCUSDT",
        ),
        ReferencePrice(
            "ETH-USD",
            Decimal("3342.57000000"),
            datetime(2024, 11, 22, 0, 0, 0, 253000, tzinfo=UTC),
            "binance:ETHUSDT",
        ),
        # the combined-stream envelope is unwrapped
        ReferencePrice(
            "BTC-USD",
            Decimal("98710.55000000"),
            datetime(2024, 11, 22, 0, 0, 1, 4000, tzinfo=UTC),
            "binance:BTCUSDT",
        ),
        ReferencePrice(
            "ETH-USD",
            Decimal("3342.60000000"),
            datetime(2024, 11, 22, 0, 0, 1, 409000, tzinfo=UTC),
            "binance:ETHUSDT",
        ),
    ]
    # skipped, not errors: the SUBSCRIBE answer, SOLUSDT (not followed), aggTrade
    assert [i for i, p in enumerate(parsed) if p is None] == [0, 4, 6]


@pytest.mark.parametrize(
    "raw, message",
    [
        ("not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"e":"trade","p":"1","T":1}', "missing symbol"),
        ('{"e":"trade","s":"BTCUSDT","T":1}', "without p or T"),
        ('{"e":"trade","s":"BTCUSDT","p":"1"}', "without p or T"),
        ('{"e":"trade","s":"BTCUSDT","p":95000.1,"T":1}', "expected a decimal string"),
        ('{"e":"trade","s":"BTCUSDT","p":"abc","T":1}', "not a number"),
        ('{"e":"trade","s":"BTCUSDT","p":"NaN","T":1}', "positive"),
        ('{"e":"trade","s":"BTCUSDT","p":"-5","T":1}', "positive"),
        ('{"e":"trade","s":"BTCUSDT","p":"0","T":1}', "positive"),
        ('{"e":"trade","s":"BTCUSDT","p":"1","T":"soon"}', "not an ISO time"),
        ('{"e":"trade","s":"BTCUSDT","p":"1","T":true}', "not a time"),
        ('{"stream":"x","data":[1]}', "data: not a JSON object"),
        ('{"error":{"code":2,"msg":"Invalid request"},"id":1}', "server error"),
    ],
)
def test_malformed_binance_messages_raise_feed_error(raw, message):
    with pytest.raises(FeedError, match=message):
        parse_message(raw, SYMBOLS)


def test_symbol_mapping():
    assert binance_symbol("BTC-USD") == "BTCUSDT"
    assert binance_symbol("eth-btc") == "ETHBTC"
    with pytest.raises(FeedError):
        binance_symbol("BTCUSD")
    feed = BinanceTradeFeed(["BTC-USD", "ETH-EUR"], symbol_map={"ETH-EUR": "ethusdc"})
    assert feed.ours_by_theirs == {"BTCUSDT": "BTC-USD", "ETHUSDC": "ETH-EUR"}
    assert json.loads(feed.subscribe_message()) == {
        "method": "SUBSCRIBE",
        "params": ["btcusdt@trade", "ethusdc@trade"],
        "id": 1,
    }


# --- Binance connection loop (fake socket) ------------------------------------------


class FakeSocket:
    def __init__(self, frames, fail_with=None):
        self.frames = frames
        self.fail_with = fail_with
        self.sent: list[str] = []

    async def send(self, text):
        self.sent.append(text)

    def __aiter__(self):
        return self._iterate()

    async def _iterate(self):
        for frame in self.frames:
            yield frame
        if self.fail_with:
            raise self.fail_with


class FakeConnect:
    """Each call is one connection attempt: a socket, or an exception."""

    def __init__(self, attempts):
        self.attempts = list(attempts)
        self.urls: list[str] = []
        self.sockets: list[FakeSocket] = []

    def __call__(self, url):
        self.urls.append(url)
        attempt = self.attempts.pop(0)
        outer = self

        class Context:
            async def __aenter__(self):
                if isinstance(attempt, BaseException):
                    raise attempt
                outer.sockets.append(attempt)
                return attempt

            async def __aexit__(self, *exc):
                return False

        return Context()


class FixedRandom:
    def uniform(self, low, high):
        return high


def trade(price, t=1732233600000, symbol="BTCUSDT"):
    return json.dumps({"e": "trade", "s": symbol, "t": 1, "p": price, "q": "1", "T": t})


def test_binance_feed_subscribes_reconnects_with_backoff_and_resets_it():
    clock = FakeClock()
    connect = FakeConnect(
        [
            OSError("connection refused"),
            TimeoutError(),
            FakeSocket(
                [trade("95000.10"), "garbage", trade("95000.20")],
                fail_with=ConnectionClosedError(None, None),
            ),
            FakeSocket([trade("95001.00")]),  # server closes cleanly
        ]
    )
    feed = BinanceTradeFeed(
        ["BTC-USD"],
        url="wss://example.invalid/ws",
        connect=connect,
        clock=clock,
        backoff=Backoff(initial=1, maximum=8, rng=FixedRandom()),
        max_reconnects=3,
    )
    prices = run(collect(feed.stream()))
    assert [str(p.price) for p in prices] == ["95000.10", "95000.20", "95001.00"]
    assert feed.malformed == 1
    assert connect.urls == ["wss://example.invalid/ws"] * 4
    assert json.loads(connect.sockets[0].sent[0])["params"] == ["btcusdt@trade"]
    # 1 s, 2 s after the two failures; back to 1 s once messages flowed
    assert clock.sleeps == [1, 2, 1]


def test_backoff_is_capped():
    backoff = Backoff(initial=1, maximum=8, rng=FixedRandom())
    assert [backoff.next_delay() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    backoff.reset()
    assert backoff.next_delay() == 1


# --- Replay ---------------------------------------------------------------------------


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "rec.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


RECORDING = (
    "# a comment",
    '{"time": 1000, "symbol": "BTCUSDT", "price": "100.00"}',
    "",
    '{"time": 1500, "symbol": "ETHUSDT", "price": "10.00"}',
    "not json",
    '{"time": 3000, "symbol": "BTCUSDT", "bid": "100.90", "ask": "101.10"}',
    '{"time": 3500, "symbol": "BTCUSDT", "price": 101.5}',
    '{"time": 4000, "symbol": "BTCUSDT", "bid": "102", "ask": "101"}',
    '{"time": "1970-01-01T00:00:05Z", "symbol": "BTCUSDT", "price": "102.00"}',
)


def test_replay_at_speed_one_waits_the_recorded_gaps(tmp_path):
    clock = FakeClock()
    feed = ReplayFeed(
        write(tmp_path, *RECORDING),
        symbol_map=SYMBOLS,
        speed=1,
        clock=clock,
    )
    events = run(collect(feed.stream()))
    assert [(e.symbol, str(e.price)) for e in events] == [
        ("BTC-USD", "100.00"),
        ("ETH-USD", "10.00"),
        ("BTC-USD", "101.00"),  # a quote's mid
        ("BTC-USD", "102.00"),
    ]
    assert clock.sleeps == [0.5, 1.5, 2.0]
    assert feed.skipped == 3  # not json, a float price, a crossed quote
    assert events[-1].time == datetime(1970, 1, 1, 0, 0, 5, tzinfo=UTC)


def test_replay_speed_factor_scales_the_waits(tmp_path):
    clock = FakeClock()
    feed = ReplayFeed(
        write(tmp_path, *RECORDING), symbol_map=SYMBOLS, speed=4, clock=clock
    )
    run(collect(feed.stream()))
    assert clock.sleeps == [0.125, 0.375, 0.5]


def test_replay_speed_zero_never_sleeps_and_a_slow_consumer_is_not_made_to_wait(
    tmp_path,
):
    clock = FakeClock()
    feed = ReplayFeed(
        write(tmp_path, *RECORDING), symbol_map=SYMBOLS, speed=0, clock=clock
    )
    assert len(run(collect(feed.stream()))) == 4
    assert clock.sleeps == []

    # at speed 1, a consumer that took 1 s per event only waits the rest
    clock = FakeClock()
    feed = ReplayFeed(
        write(tmp_path, *RECORDING), symbol_map=SYMBOLS, speed=1, clock=clock
    )

    async def slow():
        async for _ in feed.stream():
            clock.now += 1.0

    run(slow())
    # due at +0.5 (already +1 late: no sleep), +2.0 (now +2: none), +4.0 (now +3)
    assert clock.sleeps == [1.0]


def test_replay_filters_symbols_and_loops_with_increasing_times(tmp_path):
    clock = FakeClock()
    feed = ReplayFeed(
        write(tmp_path, *RECORDING),
        symbol_map={"BTCUSDT": "BTC-USD"},
        speed=1,
        loop=True,
        clock=clock,
    )
    events = run(collect(feed.stream(), limit=6))
    assert [str(e.price) for e in events] == [
        "100.00",
        "101.00",
        "102.00",
        "100.00",
        "101.00",
        "102.00",
    ]
    seconds = [e.time.timestamp() for e in events]
    assert seconds == [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]  # span 4 s + 2 s average gap
    assert clock.sleeps == [2.0, 2.0, 2.0, 2.0, 2.0]


def test_replay_rejects_a_negative_speed(tmp_path):
    with pytest.raises(ValueError, match="speed"):
        ReplayFeed(write(tmp_path, *RECORDING), speed=-1)


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"symbol": "X", "price": "1"}', "time"),
        ('{"time": 1, "price": "1"}', "symbol"),
        ('{"time": 1, "symbol": "X"}', "needs price"),
        ('{"time": 1, "symbol": "X", "bid": "1"}', "needs price"),
        ('{"time": -5, "symbol": "X", "price": "1"}', "negative"),
        ('"just a string"', "not a JSON object"),
    ],
)
def test_malformed_replay_records(line, message):
    with pytest.raises(FeedError, match=message):
        parse_record(line)


def test_the_bundled_demo_sample_is_clean_and_covers_both_demo_symbols():
    feed = ReplayFeed(DEMO_SAMPLE, symbol_map=SYMBOLS, speed=0)
    records = feed.records()
    assert feed.skipped == 0
    assert {r.symbol for r in records} == {"BTC-USD", "ETH-USD"}
    assert len(records) == 1200
    times = [r.time for r in records]
    assert times == sorted(times)


def test_feed_from_spec():
    replay = feed_from_spec("replay", symbols=["btc-usd"], speed=0)
    assert isinstance(replay, ReplayFeed) and replay.loop
    assert replay.symbol_map["BTCUSDT"] == "BTC-USD"
    assert isinstance(feed_from_spec("binance", symbols=["BTC-USD"]), BinanceTradeFeed)
    static = feed_from_spec("static:95000", symbols=["BTC-USD"])
    assert static.prices == {"BTC-USD": Decimal("95000")}
    static = feed_from_spec(
        "static:BTC-USD=95000,ETH-USD=3400.5", symbols=["BTC-USD", "ETH-USD"]
    )
    assert static.prices == {"BTC-USD": Decimal(95000), "ETH-USD": Decimal("3400.5")}
    with pytest.raises(FeedError, match="several symbols"):
        feed_from_spec("static:95000", symbols=["BTC-USD", "ETH-USD"])
    with pytest.raises(FeedError, match="positive"):
        feed_from_spec("static:-1", symbols=["BTC-USD"])
    with pytest.raises(FeedError, match="unknown feed"):
        feed_from_spec("kraken", symbols=["BTC-USD"])


def test_static_feed_emits_once_then_waits():
    clock = FakeClock()

    async def first_two():
        stream = StaticFeed({"BTC-USD": "95000"}, clock=clock).stream()
        first = await anext(stream)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(stream), timeout=0.05)
        return first

    first = run(first_two())
    assert (first.symbol, first.price) == ("BTC-USD", Decimal(95000))
