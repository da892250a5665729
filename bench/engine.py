"""Matching engine benchmark: ``python -m bench.engine [--commands N] [--seed S]``.

Generates a seeded, realistic mixed workload (most orders near the touch, a share
of cancels and amends, marketable limits, market orders with and without a quote
limit, stops, post-only, IOC/FOK, self-trades among fifty users), then measures in
one run:

* the engine: commands per second through ``process_many`` (every event built and
  kept) and per-command latency percentiles through ``process``;
* the engine, the naive reference book (``trading.engine.reference``) and
  ``pyorderbook`` from PyPI on one and the same list of commands that all three
  give the same meaning (limit orders and cancels, no self-trades), each checked
  to produce exactly the engine's trades;
* memory per resting order with a million orders resting.

Floats appear here only for timing figures; the engine sees integers only.
"""

import argparse
import gc
import os
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from trading.engine import (
    COMPILED,
    STP,
    Amend,
    Cancel,
    Command,
    OrderBook,
    OrderType,
    Place,
    ReferenceBook,
    Side,
    TimeInForce,
)
from trading.engine import Trade as TradeEvent
from trading.engine_select import pure_requested

BUY, SELL = Side.BUY, Side.SELL
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK

# Share of each command kind in the mixed workload (cumulative thresholds).
PASSIVE, CANCEL, MARKETABLE, MARKET, AMEND = 0.50, 0.75, 0.87, 0.92, 0.96


def generate_commands(
    count: int, seed: int = 1, owners: int = 50, mid: int = 10_000
) -> list[Command]:
    """A deterministic command stream. Prices follow a slow random walk around
    ``mid``; resting prices sit a few ticks from it (exponential offsets)."""
    rng = random.Random(seed)
    live: list[int] = []  # ids we placed and may still be open
    commands: list[Command] = []
    next_id = 1
    stp_modes = [STP.EXPIRE_TAKER] * 8 + [STP.EXPIRE_MAKER, STP.EXPIRE_BOTH]
    for _ in range(count):
        if rng.random() < 0.02:
            mid = max(100, mid + rng.choice((-1, 1)))
        roll = rng.random()
        side = BUY if rng.random() < 0.5 else SELL
        owner = rng.randrange(1, owners + 1)
        quantity = rng.randint(1, 20)
        if CANCEL <= roll < AMEND and not live:
            roll = 0.0
        if roll < PASSIVE:
            offset = 1 + int(rng.expovariate(0.25))
            price = mid - offset if side is BUY else mid + offset
            post_only = rng.random() < 0.1
            commands.append(
                Place(next_id, owner, side, OrderType.LIMIT, price, quantity,
                      post_only=post_only, stp=rng.choice(stp_modes))
            )  # fmt: skip
            live.append(next_id)
            next_id += 1
        elif roll < CANCEL:
            index = rng.randrange(len(live))
            live[index], live[-1] = live[-1], live[index]
            commands.append(Cancel(live.pop()))
        elif roll < MARKETABLE:
            reach = rng.randint(0, 3)
            price = mid + reach if side is BUY else mid - reach
            tif = rng.choices((GTC, IOC, FOK), (7, 2, 1))[0]
            commands.append(
                Place(next_id, owner, side, OrderType.LIMIT, price, quantity, tif,
                      stp=rng.choice(stp_modes))
            )  # fmt: skip
            if tif is GTC:
                live.append(next_id)
            next_id += 1
        elif roll < MARKET:
            quote = None
            lots: int | None = quantity
            if side is BUY and rng.random() < 0.3:
                quote = quantity * mid
                if rng.random() < 0.5:
                    lots = None
            commands.append(
                Place(next_id, owner, side, OrderType.MARKET, None, lots,
                      quote_limit=quote)
            )  # fmt: skip
            next_id += 1
        elif roll < AMEND:
            order_id = live[rng.randrange(len(live))]
            if rng.random() < 0.5:
                commands.append(Amend(order_id, new_quantity=rng.randint(1, 5)))
            else:
                offset = 1 + int(rng.expovariate(0.25))
                sign = 1 if rng.random() < 0.5 else -1
                commands.append(Amend(order_id, new_price=mid + sign * offset))
        else:
            distance = rng.randint(5, 30)
            stop = mid + distance if side is BUY else mid - distance
            if rng.random() < 0.5:
                commands.append(
                    Place(next_id, owner, side, OrderType.STOP_MARKET, None,
                          quantity, stop_price=stop)
                )  # fmt: skip
            else:
                limit = stop + 2 if side is BUY else stop - 2
                commands.append(
                    Place(next_id, owner, side, OrderType.STOP_LIMIT, limit,
                          quantity, stop_price=stop)
                )  # fmt: skip
                live.append(next_id)
            next_id += 1
    return commands


# ---------------------------------------------------------------------- runners


def throughput(run: Callable[[], Any], repeat: int) -> tuple[float, float, float, int]:
    """Commands per second over ``repeat`` runs of ``run`` (which returns how many
    commands and events it handled): best and median by CPU time of this process
    (what one core delivers, whatever else the machine is doing), and best by wall
    time."""
    cpu_rates = []
    wall_rates = []
    events = 0
    for _ in range(repeat):
        gc.collect()
        wall = time.perf_counter()
        cpu = time.process_time()
        count, events = run()
        cpu_rates.append(count / (time.process_time() - cpu))
        wall_rates.append(count / (time.perf_counter() - wall))
    return max(cpu_rates), statistics.median(cpu_rates), max(wall_rates), events


def percentiles(samples: list[int]) -> tuple[float, float, float]:
    samples.sort()
    n = len(samples)

    def at(q: float) -> float:
        return samples[min(n - 1, int(q * n))] / 1000  # ns -> us

    return at(0.50), at(0.99), at(0.999)


def engine_runs(
    commands: list[Command], batch_size: int
) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """Throughput feeds ``process_many`` batches of ``batch_size`` commands, as the
    matching job does; each batch's events are counted and dropped, like a job
    that has written them."""
    batches = [
        commands[i : i + batch_size] for i in range(0, len(commands), batch_size)
    ]

    def batch() -> tuple[int, int]:
        book = OrderBook("BENCH")
        process_many = book.process_many
        events = 0
        for chunk in batches:
            events += len(process_many(chunk))
        return len(commands), events

    def latency() -> list[int]:
        book = OrderBook("BENCH")
        process = book.process
        clock = time.perf_counter_ns
        samples = []
        for command in commands:
            started = clock()
            process(command)
            samples.append(clock() - started)
        return samples

    return batch, latency


def peer_commands(count: int, seed: int = 1, mid: int = 10_000) -> list[Command]:
    """A stream every peer gives the same meaning: good-till-cancelled limit
    orders (passive and marketable, remainders rest) and cancels of orders
    placed earlier (some already filled, so refused by all). Each order has its
    own owner, so self-trade prevention never changes an outcome."""
    rng = random.Random(seed)
    live: list[int] = []
    commands: list[Command] = []
    next_id = 1
    for _ in range(count):
        if rng.random() < 0.02:
            mid = max(100, mid + rng.choice((-1, 1)))
        roll = rng.random()
        if roll < 0.25 and live:
            index = rng.randrange(len(live))
            live[index], live[-1] = live[-1], live[index]
            commands.append(Cancel(live.pop()))
            continue
        side = BUY if rng.random() < 0.5 else SELL
        if roll < 0.85:
            offset = 1 + int(rng.expovariate(0.25))
        else:
            offset = -rng.randint(0, 3)  # marketable: at or through the touch
        price = mid - offset if side is BUY else mid + offset
        commands.append(
            Place(next_id, next_id, side, OrderType.LIMIT, price, rng.randint(1, 20))
        )
        live.append(next_id)
        next_id += 1
    return commands


TradeKey = tuple[int, int, int, int]  # maker id, taker id, price, quantity


class Peer:
    """One implementation under comparison: ``run`` times it (returns commands
    handled and what it emitted), ``trades`` replays it untimed for the check."""

    def __init__(
        self,
        name: str,
        run: Callable[[], tuple[int, int]],
        trades: Callable[[], list[TradeKey]],
    ) -> None:
        self.name, self.run, self.trades = name, run, trades


def engine_peer(
    name: str, make_book: Callable[[], Any], commands: list[Command]
) -> Peer:
    """The engine or the reference book: every event built, as the matcher needs."""

    def run() -> tuple[int, int]:
        book = make_book()
        process = book.process
        events = 0
        for command in commands:
            events += len(process(command))
        return len(commands), events

    def trades() -> list[TradeKey]:
        book = make_book()
        found = []
        for command in commands:
            for event in book.process(command):
                if type(event) is TradeEvent:
                    found.append(
                        (
                            event.maker_order_id,
                            event.taker_order_id,
                            event.price,
                            event.quantity,
                        )
                    )
        return found

    return Peer(name, run, trades)


def pyorderbook_peer(commands: list[Command]) -> Peer | None:
    """pyorderbook, fed the same commands: its limit orders match price-time at
    the maker's price and rest their remainder, as the engine's do; a cancel of
    an order no longer resting is refused (skipped), as the engine refuses it."""
    try:
        import logging

        import pyorderbook
    except ImportError:
        return None
    logging.getLogger("pyorderbook.book").setLevel(logging.WARNING)

    def replay(keep: bool) -> tuple[int, list[TradeKey]]:
        book = pyorderbook.Book()
        by_id: dict[int, Any] = {}
        ours: dict[Any, int] = {}
        count = 0
        found: list[TradeKey] = []
        for command in commands:
            if type(command) is Place:
                maker = pyorderbook.bid if command.side is BUY else pyorderbook.ask
                order = maker("BENCH", command.price, command.quantity)
                by_id[command.order_id] = order
                blotter = book.match(order)
                count += len(blotter.trades)
                if keep:
                    ours[order.id] = command.order_id
                    found.extend(
                        (
                            ours[t.standing_order_id],
                            command.order_id,
                            int(t.fill_price),
                            t.fill_quantity,
                        )
                        for t in blotter.trades
                    )
            elif isinstance(command, Cancel):  # the peers' list: limits and cancels
                order = by_id.pop(command.order_id, None)
                if order is not None and book.get_order(order.id) is not None:
                    book.cancel(order)
        return count, found

    def run() -> tuple[int, int]:
        return len(commands), replay(False)[0]

    return Peer("pyorderbook 0.4.9 (PyPI)", run, lambda: replay(True)[1])


def memory_per_resting_order(count: int) -> tuple[float, int]:
    """Bytes the book holds per resting order, with ``count`` orders resting on
    ~4000 levels. Commands are made inside the traced region and dropped, so the
    figure is what the book itself keeps (ids included)."""
    gc.collect()
    tracemalloc.start()
    book = OrderBook("MEMORY")
    before = tracemalloc.get_traced_memory()[0]
    chunk = 100_000
    for start in range(0, count, chunk):
        batch = [
            Place(
                order_id=1_000_000_000 + i,
                owner=1 + i % 50,
                side=BUY if i % 2 else SELL,
                price=(10_000 - 1 - (i // 2) % 2000)
                if i % 2
                else (10_000 + 1 + (i // 2) % 2000),
                quantity=1 + i % 20,
            )
            for i in range(start, min(count, start + chunk))
        ]
        book.process_many(batch)
        del batch
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert book.open_order_count() == count
    return held / count, book.open_order_count()


# ------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs")
    parser.add_argument("--batch", type=int, default=1000, help="process_many size")
    parser.add_argument(
        "--peer-commands",
        type=int,
        default=20_000,
        help="commands in the list every peer runs (the naive reference is slow)",
    )
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--skip-pypi", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--memory-orders", type=int, default=1_000_000)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument(
        "--gc",
        choices=("default", "tuned", "off"),
        default="default",
        help="default: CPython's thresholds; tuned: gen-0 threshold 50,000 "
        "(what the matching worker should set); off: no collection at all",
    )
    args = parser.parse_args(argv)
    if pure_requested() and COMPILED:
        # bench/__init__.py installs the source-only import; getting here means
        # the engine was imported another way: refuse rather than mislabel.
        sys.exit("ENGINE_PURE=1 but the compiled engine was imported: refused")

    started = time.perf_counter()
    commands = generate_commands(args.commands, args.seed)
    kinds: dict[str, int] = {}
    for command in commands:
        name = type(command).__name__
        if type(command) is Place:
            name = f"place {command.type.value}"
        kinds[name] = kinds.get(name, 0) + 1
    build = "mypyc-compiled" if COMPILED else "interpreted (source)"
    print(
        f"engine build: {build}; python {sys.version.split()[0]}; "
        f"gc: {args.gc}; seed {args.seed}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} cores"
    )
    print(
        f"workload: {len(commands):,} commands in "
        f"{time.perf_counter() - started:.1f}s: "
        + ", ".join(f"{k} {v / len(commands):.0%}" for k, v in sorted(kinds.items()))
    )
    peer_list = peer_commands(args.peer_commands, args.seed)
    # The generated workloads are the harness's, not the engine's: move them out
    # of the collector's sight so that only objects the engine allocates are scanned.
    gc.collect()
    gc.freeze()
    if args.gc == "tuned":
        gc.set_threshold(50_000, 20, 100)
    elif args.gc == "off":
        gc.disable()

    batch, latency = engine_runs(commands, args.batch)
    best, median, wall, events = throughput(batch, args.repeat)
    p50 = p99 = p999 = float("nan")
    if not args.skip_latency:
        gc.collect()
        p50, p99, p999 = percentiles(latency())
    print()
    print(
        f"the engine on the mixed workload ({len(commands):,} commands, "
        f"{events:,} events): best {best:,.0f} cmd/s, median {median:,.0f}, "
        f"wall best {wall:,.0f}; latency p50 {p50:.2f} us, p99 {p99:.2f} us, "
        f"p99.9 {p999:.2f} us"
    )
    print(
        "(cmd/s by process CPU time, best and median of the runs; 'wall best' by "
        "wall clock; latency by wall clock around each process() call)"
    )

    peers = [engine_peer("engine", lambda: OrderBook("BENCH"), peer_list)]
    if not args.skip_reference:
        peers.append(engine_peer("reference (naive)", ReferenceBook, peer_list))
    if not args.skip_pypi:
        found = pyorderbook_peer(peer_list)
        if found is None:
            print("pyorderbook not installed: skipped")
        else:
            peers.append(found)
    expected = peers[0].trades()
    print(
        f"\npeers on one list of {len(peer_list):,} commands (limit orders and "
        f"cancels, {len(expected):,} trades), each checked to trade exactly as "
        "the engine does:"
    )
    header = (
        f"{'implementation':<26} {'best cmd/s':>11} {'median':>9} "
        f"{'emitted':>9} {'trades':>8}"
    )
    print(header)
    print("-" * len(header))
    failed = False
    for peer in peers:
        trades = peer.trades()
        same = trades == expected
        failed |= not same
        # the naive reference needs seconds per thousand commands: one run
        repeat = 1 if peer.name.startswith("reference") else args.repeat
        best, median, _, emitted = throughput(peer.run, repeat)
        print(
            f"{peer.name:<26} {best:>11,.0f} {median:>9,.0f} {emitted:>9,} "
            f"{len(trades):>8,}{'' if same else '  DIFFERENT TRADES'}"
        )
    print("(emitted: engine and reference = every event; pyorderbook = trades)")
    if failed:
        sys.exit("a peer traded differently from the engine: its figure is void")
    if not args.skip_memory:
        per_order, resting = memory_per_resting_order(args.memory_orders)
        print(
            f"\nmemory: {per_order:,.0f} bytes per resting order "
            f"({resting:,} orders resting, traced with tracemalloc)"
        )


if __name__ == "__main__":
    main()
