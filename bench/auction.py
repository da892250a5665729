"""The engine in a call phase: cost per command in a call against continuous
trading, and one uncross, on books of 100 and 400 levels a side.

    python -m bench.auction                # the compiled build when built
    ENGINE_PURE=1 python -m bench.auction  # the interpreted source

In a call every command recomputes the indicative uncross (the engine publishes
it as it changes), which walks the crossed levels: that is the difference.
Figures only, no pass or fail (docs/performance-log.md).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from trading.engine_select import honour_engine_pure

honour_engine_pure()

from trading.engine import Phase, Place, SetPhase, Side, Uncross, new_book  # noqa: E402
from trading.engine import book as book_module  # noqa: E402

TOP = 10_000  # the best bid's price in ticks


def book_of(levels: int, phase: Phase):
    """`levels` bids and asks of random sizes; in a call the asks overlap half the
    bids (a crossed book), else they start one tick above the best bid."""
    rng = random.Random(7)
    book = new_book("BENCH")
    if phase is Phase.CALL:
        book.process(SetPhase(Phase.CALL))
    order_id = 0
    for i in range(levels):
        ask = TOP - levels // 2 + i if phase is Phase.CALL else TOP + 1 + i
        for side, price in ((Side.BUY, TOP - i), (Side.SELL, ask)):
            order_id += 1
            book.process(
                Place(
                    order_id=order_id,
                    owner=order_id % 100,
                    side=side,
                    price=price,
                    quantity=rng.randint(1, 20),
                )
            )
    return book, order_id


def per_command_us(levels: int, phase: Phase, commands: int, repeat: int) -> float:
    """Median microseconds per passive limit order (it rests, trades nothing)."""
    samples = []
    for _ in range(repeat):
        book, order_id = book_of(levels, phase)
        start = time.perf_counter()
        for k in range(commands):
            order_id += 1
            book.process(
                Place(
                    order_id=order_id,
                    owner=1,
                    side=Side.BUY,
                    price=TOP - levels - 1 - k % 50,
                    quantity=1,
                )
            )
        samples.append((time.perf_counter() - start) / commands * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    build = "compiled" if book_module.__file__.endswith(".so") else "interpreted"
    print(f"engine: {build}; load average {os.getloadavg()[0]:.2f}")
    for levels in (100, 400):
        continuous = per_command_us(
            levels, Phase.CONTINUOUS, args.commands, args.repeat
        )
        call = per_command_us(levels, Phase.CALL, args.commands, args.repeat)
        book, _ = book_of(levels, Phase.CALL)
        start = time.perf_counter()
        events = book.process(Uncross(Phase.CONTINUOUS))
        uncross_ms = (time.perf_counter() - start) * 1e3
        trades = sum(1 for event in events if type(event).__name__ == "Trade")
        print(
            f"{levels} levels a side: {continuous:.1f} us a command continuous, "
            f"{call:.1f} us in a call; one uncross {uncross_ms:.2f} ms "
            f"({trades} trades)"
        )


if __name__ == "__main__":
    main()
