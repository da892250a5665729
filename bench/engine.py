"""Matching engine benchmark: ``python -m bench.engine [--commands N] [--seed S]``.

Generates a seeded, realistic mixed workload (most orders near the touch, a share
of cancels and amends, marketable limits, market orders with and without a quote
limit, stops, post-only, IOC/FOK, self-trades among fifty users), then measures in
one run:

* the engine: commands per second through ``process_many`` (every event built and
  kept) and per-command latency percentiles through ``process``;
* the naive reference book (``trading.engine.reference``), on a prefix of the
  same stream;
* ``pyorderbook`` from PyPI, on the same stream mapped to what it supports
  (limit orders and cancels);
* memory per resting order with a million orders resting.

Floats appear here only for timing figures; the engine sees integers only.
"""

import argparse
import gc
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


def reference_runs(
    commands: list[Command],
) -> tuple[Callable[[], Any], Callable[[], Any]]:
    def batch() -> tuple[int, int]:
        book = ReferenceBook()
        events = 0
        for command in commands:
            events += len(book.process(command))
        return len(commands), events

    def latency() -> list[int]:
        book = ReferenceBook()
        clock = time.perf_counter_ns
        samples = []
        for command in commands:
            started = clock()
            book.process(command)
            samples.append(clock() - started)
        return samples

    return batch, latency


def pyorderbook_runs(
    commands: list[Command],
) -> tuple[Callable[[], Any], Callable[[], Any]] | None:
    """pyorderbook knows limit orders and cancels only: limit orders go in as
    they are (IOC/FOK too, resting), market orders as limits far through the
    book, amends as cancel + new limit, stops are dropped."""
    try:
        import logging

        import pyorderbook
    except ImportError:
        return None
    logging.getLogger("pyorderbook.book").setLevel(logging.WARNING)

    def step(book: Any, by_id: dict[int, Any], command: Command) -> int:
        if type(command) is Place:
            if command.type is OrderType.LIMIT:
                price = command.price
            elif command.type is OrderType.MARKET:
                price = 10**9 if command.side is BUY else 1
            else:
                return 0
            maker = pyorderbook.bid if command.side is BUY else pyorderbook.ask
            order = maker("BENCH", price, command.quantity or 10)
            by_id[command.order_id] = order
            return len(book.match(order).trades)
        if type(command) is Cancel:
            order = by_id.pop(command.order_id, None)
            if order is not None and book.get_order(order.id) is not None:
                book.cancel(order)
            return 0
        assert type(command) is Amend
        order = by_id.get(command.order_id)
        if order is None or book.get_order(order.id) is None:
            return 0
        book.cancel(order)
        price = command.new_price or order.price
        quantity = command.new_quantity or order.quantity
        maker = (
            pyorderbook.bid if order.side is pyorderbook.Side.BID else pyorderbook.ask
        )
        fresh = maker("BENCH", price, quantity)
        by_id[command.order_id] = fresh
        return len(book.match(fresh).trades)

    def batch() -> tuple[int, int]:
        book = pyorderbook.Book()
        by_id: dict[int, Any] = {}
        trades = sum(step(book, by_id, command) for command in commands)
        return len(commands), trades

    def latency() -> list[int]:
        book = pyorderbook.Book()
        by_id: dict[int, Any] = {}
        clock = time.perf_counter_ns
        samples = []
        for command in commands:
            started = clock()
            step(book, by_id, command)
            samples.append(clock() - started)
        return samples

    return batch, latency


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
    parser.add_argument("--reference-commands", type=int, default=20_000)
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

    started = time.perf_counter()
    commands = generate_commands(args.commands, args.seed)
    kinds: dict[str, int] = {}
    for command in commands:
        name = type(command).__name__
        if type(command) is Place:
            name = f"place {command.type.value}"
        kinds[name] = kinds.get(name, 0) + 1
    build = "mypyc-compiled" if COMPILED else "interpreted"
    print(
        f"engine build: {build}; python {sys.version.split()[0]}; "
        f"gc: {args.gc}; seed {args.seed}"
    )
    print(
        f"workload: {len(commands):,} commands in "
        f"{time.perf_counter() - started:.1f}s: "
        + ", ".join(f"{k} {v / len(commands):.0%}" for k, v in sorted(kinds.items()))
    )
    # The generated workload is the harness's, not the engine's: move it out of
    # the collector's sight so that only objects the engine allocates are scanned.
    gc.collect()
    gc.freeze()
    if args.gc == "tuned":
        gc.set_threshold(50_000, 20, 100)
    elif args.gc == "off":
        gc.disable()

    rows = []
    subjects: list[tuple[str, list[Command], Any]] = [
        ("engine", commands, engine_runs(commands, args.batch))
    ]
    if not args.skip_reference:
        prefix = commands[: args.reference_commands]
        subjects.append(("reference (naive)", prefix, reference_runs(prefix)))
    if not args.skip_pypi:
        prefix = commands[: args.reference_commands * 5]
        runs = pyorderbook_runs(prefix)
        if runs is None:
            print("pyorderbook not installed: skipped")
        else:
            subjects.append(("pyorderbook 0.4.9 (PyPI)", prefix, runs))
    for name, stream, (batch, latency) in subjects:
        repeat = args.repeat if name == "engine" else 1
        best, median, wall, events = throughput(batch, repeat)
        p50 = p99 = p999 = float("nan")
        if not args.skip_latency:
            gc.collect()
            p50, p99, p999 = percentiles(latency())
        rows.append((name, len(stream), best, median, wall, events, p50, p99, p999))

    print()
    header = (
        f"{'implementation':<26} {'commands':>10} {'best cmd/s':>11} "
        f"{'median':>9} {'wall best':>9} {'events':>9} {'p50 us':>7} "
        f"{'p99 us':>7} {'p99.9 us':>8}"
    )
    print(header)
    print("-" * len(header))
    for name, n, best, median, wall, events, p50, p99, p999 in rows:
        print(
            f"{name:<26} {n:>10,} {best:>11,.0f} {median:>9,.0f} {wall:>9,.0f} "
            f"{events:>9,} {p50:>7.2f} {p99:>7.2f} {p999:>8.2f}"
        )
    print(
        "(cmd/s by process CPU time, best and median of the runs; 'wall best' by "
        "wall clock; latency by wall clock around each process() call)"
    )
    print("(events: engine and reference = every event; pyorderbook = trades)")
    if not args.skip_memory:
        per_order, resting = memory_per_resting_order(args.memory_orders)
        print(
            f"\nmemory: {per_order:,.0f} bytes per resting order "
            f"({resting:,} orders resting, traced with tracemalloc)"
        )


if __name__ == "__main__":
    main()
