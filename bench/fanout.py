"""Fan-out benchmark of /ws/market/ on the real stack: uvicorn (ASGI), the Redis
channel layer, PostgreSQL.

    python -m bench.fanout --clients 100 1000 --rate 200 --seconds 20

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/md_dev, created
and migrated if missing), REDIS_URL (default redis://127.0.0.1:6379/12).

What runs:
  * this process seeds an instrument (FAN-USD) and funded verified users, starts
    `--servers` processes of `uvicorn config.asgi:application` (uvloop, httptools,
    a port each: hubs are per process) and, per N, connects N WebSocket clients
    (the `websockets` package, in processes of 250, each process's clients on one
    server as a load balancer would spread them);
  * `--source orders` (default): `--placers` processes place orders through
    `trading.services.order_place`/`order_cancel`, paced to `--rate` book changes
    (sequence steps) per second: ~65% passive limit orders, ~15% crossing orders,
    ~20% cancels; one matcher process drains them in batches as the Celery worker
    does (one matching transaction and one published frame per batch, published
    after commit by marketdata's publisher thread);
    `--source synthetic`: batch-shaped frames published at `--rate` through the
    same publisher, with no database (the fan-out path alone);
  * every client parses each batch frame's `seq` and `ts` (server time of the
    publish call right after the matching COMMIT, of the OLDEST batch merged in
    the frame) and records `arrival - ts`, so the delay is commit -> client
    (after JSON decode) and conservative for frames that merge several batches.
    A frame the client was sent before (the server re-sends, after a periodic
    snapshot, the changes above the snapshot's sequence in a frame of their own)
    is counted as a replay, not measured again.

On a machine that also runs the order flow, the simulated clients compete with
the placers for CPU, which real subscribers on their own machines would not:
`BENCH_SERVER_NICE=-10` runs the servers, and `BENCH_CLIENT_NICE=-5` the client
processes, before the order flow. Both are reported in docs/marketdata.md. The
matcher tunes its garbage collector as the Celery worker does, and each client
process freezes its sockets' objects once they are connected.

Printed per N: achieved book changes/s, frames and messages (level, trade, ticker,
candle) delivered per second over all clients, delay p50/p99/max, sequence gaps
seen by clients, replayed frames, the CPU used by the servers, the order flow
and the clients, the servers' CPU per frame delivered to a client (the fan-out's
own cost, which moves less than the delays with what else the machine runs) and
the machine's load average when measuring began and ended.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

from bench.stack import cpu_seconds, django_setup, free_port, seed_market, start_uvicorn

SYMBOL = "FAN-USD"
USERS = 20
MID = 1000
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/md_dev"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
BATCH = re.compile(
    r'\{"type":"batch","seq":(\d+),"ts":(\d+),"messages":\[\{[^}]*?"seq":(\d+)'
)
SNAPSHOT = re.compile(r'\{"type":"snapshot","symbol":"[^"]*","seq":(\d+)')


# --- the order flow (subprocesses) ---------------------------------------------------


def place_orders(rate: float, stop: str, seed: int, placers: int) -> None:
    """One placer: orders through trading.services at its share of the rate,
    until the `stop` file exists. Matching is left to the matcher process (as a
    Celery worker would do it)."""
    django_setup({}, migrate=False)
    import trading.services.orders as orders_module
    from trading.models import Instrument
    from trading.services import order_cancel, order_place

    orders_module.matching_schedule = lambda **kwargs: None  # the matcher drains
    instrument, users = seed_market(SYMBOL, USERS, "fan")
    rng = random.Random(seed)
    users = users[seed % placers :: placers] or users
    open_orders: list[tuple] = []
    share = rate / placers
    orders_per_second = share / 1.6
    start = time.perf_counter()
    seq_checkpoint = Instrument.objects.get(pk=instrument.pk).engine_seq
    checkpoint = next_at = start
    placed = 0
    while not os.path.exists(stop):
        now = time.perf_counter()
        if now < next_at:
            time.sleep(next_at - now)
        next_at += 1 / orders_per_second
        user = rng.choice(users)
        roll = rng.random()
        try:
            if roll < 0.2 and open_orders:
                owner, order_id = open_orders.pop(rng.randrange(len(open_orders)))
                order_cancel(user=owner, order_id=order_id)
            else:
                side = rng.choice(("buy", "sell"))
                sign = 1 if side == "sell" else -1
                if roll < 0.35:  # crossing: takes one or two levels
                    price = MID - sign * rng.randint(1, 4)
                else:
                    price = MID + sign * rng.randint(1, 25)
                order, _ = order_place(
                    user=user,
                    symbol=SYMBOL,
                    side=side,
                    price=str(price),
                    quantity=f"{rng.randint(1, 20) / 100:.2f}",
                )
                open_orders.append((user, order.pk))
        except Exception as exc:  # e.g. a cancel of an order filled meanwhile
            if "not_open" not in str(getattr(exc, "code", "")):
                print("placer:", type(exc).__name__, exc, file=sys.stderr)
        placed += 1
        if (now := time.perf_counter()) - checkpoint >= 1.0:
            seq = Instrument.objects.get(pk=instrument.pk).engine_seq
            achieved = (seq - seq_checkpoint) / (now - checkpoint) / placers
            if achieved > 0:
                factor = min(2.0, max(0.5, share / achieved))
                orders_per_second = min(500.0, orders_per_second * factor)
            checkpoint, seq_checkpoint = now, seq
            next_at = max(next_at, now)


def publish_synthetic(rate: float, stop: str) -> None:
    """Publish frames shaped like real matching batches (levels, a trade every
    third batch with its ticker and 7 candles) through marketdata's publisher,
    `rate` sequence steps per second: the fan-out path without the matching
    (the stored book's row only follows the sequence, for snapshots)."""
    django_setup({}, migrate=False)
    from marketdata import messages
    from marketdata.models import BookSnapshot
    from marketdata.publish import (
        group_send,
        market_group,
        market_layer_alias,
        publisher_flush,
    )
    from marketdata.selectors import book_snapshot_get
    from trading.models import Instrument

    group = market_group(SYMBOL)
    # Continue the stored book's sequence and move the row along (every 0.2 s,
    # to what was published), so snapshots and frames agree; restored at the end.
    row = book_snapshot_get(instrument=Instrument.objects.get(symbol=SYMBOL))
    stored = seq = row.seq
    synced_at = time.perf_counter()
    rng = random.Random(1)
    batches_per_second = rate * 3 / 4  # a batch is 1 level + a trade every 3rd
    next_at = time.perf_counter()
    batches = 0
    while not os.path.exists(stop):
        now = time.perf_counter()
        if now < next_at:
            time.sleep(next_at - now)
        next_at += 1 / batches_per_second
        items = []
        first = seq + 1
        if batches % 3 == 0:
            seq += 1
            items.append(
                {
                    "type": "trade",
                    "seq": seq,
                    "id": seq,
                    "price": "1000.00",
                    "quantity": "0.05000000",
                    "taker_side": "buy",
                    "time": messages.iso(datetime.now(UTC)),
                }
            )
        seq += 1
        items.append(
            {
                "type": "level",
                "seq": seq,
                "side": rng.choice(("buy", "sell")),
                "price": f"{rng.randint(975, 1025)}.00",
                "quantity": "0.35000000",
            }
        )
        if batches % 3 == 0:
            items.append({"type": "ticker", "seq": seq, "last": "1000.00"})
            for interval in ("1m", "5m", "15m", "1h", "4h", "1d", "1w"):
                items.append(
                    {
                        "type": "candle",
                        "seq": seq,
                        "interval": interval,
                        "candle": {
                            "time": 0,
                            "open": "1000.00",
                            "high": "1000.00",
                            "low": "1000.00",
                            "close": "1000.00",
                            "volume": "0.05000000",
                            "quote_volume": "50.00",
                            "trades": 1,
                        },
                    }
                )
        body = ",".join(messages.dumps(item) for item in items)
        frame = {"type": "market.frame", "first": first, "last": seq, "body": body}
        frame["ts"] = int(time.time() * 1000)
        group_send(group, frame, alias=market_layer_alias())
        batches += 1
        if now - synced_at > 0.2:
            publisher_flush(1)
            BookSnapshot.objects.filter(pk=row.pk).update(seq=seq)
            synced_at = now
    publisher_flush(10)
    BookSnapshot.objects.filter(pk=row.pk).update(seq=stored)


def match_orders(stop: str) -> None:
    """The matcher: drain the instrument's pending commands in batches, one
    matching transaction (and one published frame) per batch, until `stop`."""
    django_setup({}, migrate=False)
    from django.conf import settings

    from config.celery import app as celery_app
    from config.memory import gc_tune_long_lived
    from marketdata.publish import publisher_flush

    # The notifications' deliveries (order-filled emails) are tasks a worker
    # runs; without a broker they would run eagerly here, between runs, and
    # hold the GIL from the market publisher. Queued and left: this bench
    # measures the market stream.
    celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.broker_url = "memory://"
    from trading.models import Instrument
    from trading.services.matching import matching_run

    instrument = Instrument.objects.get(symbol=SYMBOL)
    gc_tune_long_lived()  # as the Celery worker does when it is ready
    start = time.perf_counter()
    seq_start = instrument.engine_seq
    batches = commands = 0
    from django.db import OperationalError

    deadlocks = 0
    while not os.path.exists(stop):
        try:
            result = matching_run(instrument_id=instrument.pk)
        except OperationalError:  # a deadlock victim: rolled back, run again
            deadlocks += 1
            continue
        if result.processed:
            batches += 1
            commands += result.processed
        else:
            time.sleep(0.002)
    while matching_run(instrument_id=instrument.pk).processed:
        pass
    elapsed = time.perf_counter() - start
    seq_end = Instrument.objects.get(pk=instrument.pk).engine_seq
    publisher_flush(10)
    report = {
        "seconds": round(elapsed, 1),
        "changes": seq_end - seq_start,
        "batches": batches,
        "commands": commands,
        "deadlocks": deadlocks,
    }
    print("matcher:", json.dumps(report), file=sys.stderr, flush=True)


# --- the clients ---------------------------------------------------------------------


class Stats:
    def __init__(self) -> None:
        self.delays: list[float] = []
        self.frames = 0
        self.messages = 0
        self.gaps = 0
        self.snapshots = 0
        self.replays = 0
        self.measuring = False
        self.started = False
        self.max_seq = 0


async def client(url: str, stats: Stats, ready: asyncio.Event, count: int) -> None:
    import websockets

    async with websockets.connect(
        url, max_size=None, ping_interval=None, close_timeout=1
    ) as socket:
        last = -1
        newest = -1  # highest sequence this client had been sent
        async for message in socket:
            now = time.time() * 1000
            # The market stream sends text frames.
            text = message if isinstance(message, str) else message.decode()
            match = BATCH.match(text)
            if match is None:
                snap = SNAPSHOT.match(text)
                if snap is not None:
                    last = int(snap.group(1))
                    stats.snapshots += 1
                    if stats.snapshots == count:
                        ready.set()
                continue
            seq, ts, first = (int(g) for g in match.groups())
            stats.started = True
            if first > last + 1 and last >= 0:
                stats.gaps += 1
            last = seq
            stats.max_seq = max(stats.max_seq, seq)
            if seq <= newest:  # sent again after a snapshot: measured the first time
                stats.replays += stats.measuring
                continue
            newest = seq
            if stats.measuring:
                stats.delays.append(now - ts)
                stats.frames += 1
                stats.messages += text.count('"seq":') - 1


async def client_group(url: str, count: int, pipe) -> None:
    """One client process: `count` sockets, commanded by the parent over `pipe`."""
    stats = Stats()
    ready = asyncio.Event()
    tasks = []
    for start in range(0, count, 100):
        for _ in range(min(100, count - start)):
            tasks.append(asyncio.ensure_future(client(url, stats, ready, count)))
        await asyncio.sleep(0.2)
    await asyncio.wait_for(ready.wait(), 120)
    # The sockets live as long as the run: keep full collections (a pause for
    # every socket of this process) from walking them.
    gc.collect()
    gc.freeze()
    pipe.send("ready")
    loop = asyncio.get_running_loop()
    seq_began = 0
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        if command == "started?":
            pipe.send(stats.started)
        elif command == "measure":
            stats.measuring = True
            seq_began = stats.max_seq
        elif command == "stop":
            stats.measuring = False
            pipe.send(
                {
                    "delays": stats.delays,
                    "frames": stats.frames,
                    "messages": stats.messages,
                    "gaps": stats.gaps,
                    "replays": stats.replays,
                    "changes": stats.max_seq - seq_began,
                }
            )
            break
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _client_process(url: str, count: int, pipe) -> None:
    import uvloop

    nice = int(os.environ.get("BENCH_CLIENT_NICE", "0"))
    if nice:  # the simulated clients before the order flow (see the docstring)
        os.nice(nice)

    uvloop.run(client_group(url, count, pipe))


def _spawn(args, env: dict, role: str, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "bench.fanout", "--role", role, *extra]
    return subprocess.Popen(command, env={**os.environ, **env})


def run_clients(ports: list[int], count: int, args, env: dict) -> dict:
    import multiprocessing

    from django.db import connections

    connections.close_all()  # children must not share the parent's connection
    groups = max(1, min(args.client_procs or count // 250, count), len(ports))
    context = multiprocessing.get_context("fork")
    pipes, procs = [], []
    for index in range(groups):
        clients = count // groups + (1 if index < count % groups else 0)
        parent_end, child_end = context.Pipe()
        # each client process on one server, as a load balancer would spread them
        url = f"ws://127.0.0.1:{ports[index % len(ports)]}/ws/market/{SYMBOL}/"
        proc = context.Process(target=_client_process, args=(url, clients, child_end))
        proc.start()
        pipes.append(parent_end)
        procs.append(proc)
    for pipe in pipes:
        if not pipe.poll(180):
            raise RuntimeError("clients did not connect")
        assert pipe.recv() == "ready"
    stop = os.path.join(tempfile.mkdtemp(prefix="fanout-"), "stop")
    rate = ["--rate", str(args.rate), "--stop", stop]
    if args.source == "synthetic":
        flow = [_spawn(args, env["vars"], "synthetic", *rate)]
    else:
        flow = [_spawn(args, env["vars"], "matcher", *rate)] + [
            _spawn(
                args,
                env["vars"],
                "placer",
                *rate,
                "--seed",
                str(index),
                "--placers",
                str(args.placers),
            )
            for index in range(args.placers)
        ]
    started = False
    while not started:  # the flow's processes take a while to start
        time.sleep(0.2)
        pipes[0].send("started?")
        started = pipes[0].recv()
    time.sleep(3)  # warm-up: the placers' rate control settles
    pids = {
        "server": env["pids"],
        "flow": [p.pid for p in flow],
        "clients": [p.pid for p in procs],
    }

    def cpu() -> dict:
        return {k: sum(cpu_seconds(pid) for pid in v) for k, v in pids.items()}

    cpu_before = cpu()
    load_before = os.getloadavg()[0]
    for pipe in pipes:
        pipe.send("measure")
    began = time.time()
    time.sleep(args.seconds)
    for pipe in pipes:
        pipe.send("stop")
    measured = time.time() - began
    cpu_after = cpu()
    reports = [pipe.recv() for pipe in pipes]
    open(stop, "w").close()
    for process in flow:
        process.wait(60)
    for proc in procs:
        proc.join(30)
    delays = sorted(d for report in reports for d in report["delays"])

    def pct(p: float) -> float:
        return delays[min(len(delays) - 1, int(len(delays) * p))] if delays else 0.0

    def share(key: str) -> float:
        return (cpu_after[key] - cpu_before[key]) / measured

    return {
        "clients": count,
        "servers": len(ports),
        "client_procs": groups,
        "source": args.source,
        "changes_per_s": max(r["changes"] for r in reports) / measured,
        "frames_per_s": sum(r["frames"] for r in reports) / measured,
        "messages_per_s": sum(r["messages"] for r in reports) / measured,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": delays[-1] if delays else 0.0,
        "gaps": sum(r["gaps"] for r in reports),
        "replays": sum(r["replays"] for r in reports),
        "server_cpu": share("server"),
        "flow_cpu": share("flow"),
        "clients_cpu": share("clients"),
        # server CPU per frame written to a client: what the fan-out costs, and
        # less sensitive than the delays to what else the machine runs
        "server_us_per_frame": share("server")
        * measured
        * 1e6
        / max(1, sum(r["frames"] for r in reports)),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def reset_book(instrument, users) -> None:
    """Cancel what earlier runs left open (the open-order limit is per user)."""
    from trading.services import order_cancel_all
    from trading.services.matching import matching_run

    for user in users:
        order_cancel_all(user=user, symbol=SYMBOL)
    while matching_run(instrument_id=instrument.pk).processed:
        pass


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rate", type=float, default=200, help="book changes/s")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--placers", type=int, default=6, help="order processes")
    parser.add_argument(
        "--servers",
        type=int,
        default=2,
        help="uvicorn processes, a port each (hubs are per process)",
    )
    parser.add_argument(
        "--client-procs",
        type=int,
        default=0,
        help="processes holding the client sockets (default: one per 250)",
    )
    parser.add_argument(
        "--source",
        choices=("orders", "synthetic"),
        default="orders",
        help="orders: real orders through the services and the matcher; "
        "synthetic: batch-shaped frames published at --rate (no database)",
    )
    parser.add_argument(
        "--role", choices=("placer", "matcher", "synthetic"), help=argparse.SUPPRESS
    )
    parser.add_argument("--stop", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ.setdefault("REDIS_URL", DEFAULT_REDIS)
    os.environ.setdefault("THROTTLE_ANON", "100000/min")
    os.environ.setdefault(
        "EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"
    )
    if args.role == "placer":
        place_orders(args.rate, args.stop, args.seed, args.placers)
        return
    if args.role == "synthetic":
        publish_synthetic(args.rate, args.stop)
        return
    if args.role == "matcher":
        match_orders(args.stop)
        return
    ensure_database(os.environ["DATABASE_URL"])
    django_setup({})
    instrument, users = seed_market(SYMBOL, USERS, "fan")
    reset_book(instrument, users)
    variables = {
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "THROTTLE_ANON": "100000/min",
    }
    ports = [free_port() for _ in range(args.servers)]
    servers = [start_uvicorn(variables, port) for port in ports]
    results = []
    try:
        for count in args.clients:
            env = {"pids": [server.pid for server in servers], "vars": variables}
            result = run_clients(ports, count, args, env)
            results.append(result)
            print(json.dumps(result), flush=True)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
    print()
    print(
        f"{'clients':>7} {'servers':>7} {'source':>9} {'changes/s':>9} {'frames/s':>9} "
        f"{'msgs/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'gaps':>5} "
        f"{'replays':>7} {'server':>6} {'flow':>6} {'clients':>7} {'us/frame':>8} "
        f"{'load':>9}"
    )
    for r in results:
        print(
            f"{r['clients']:>7} {r['servers']:>7} {r['source']:>9} "
            f"{r['changes_per_s']:>9.0f} "
            f"{r['frames_per_s']:>9.0f} {r['messages_per_s']:>9.0f} "
            f"{r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} "
            f"{r['gaps']:>5} {r['replays']:>7} {r['server_cpu']:>6.0%} "
            f"{r['flow_cpu']:>6.0%} "
            f"{r['clients_cpu']:>7.0%} {r['server_us_per_frame']:>8.1f} "
            f"{r['load_before']:>4.1f}-{r['load_after']:<4.1f}"
        )
    print(
        "delay = client arrival - ts (publish call right after the matching "
        "commit, oldest batch in the frame); CPU as share of one core; us/frame "
        "= server CPU per frame delivered to a client; load = 1-minute load "
        "average when measuring began and ended"
    )
    print(
        f"machine: {os.cpu_count()} cores, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
        + " at the end (the stack's parts: server + flow + clients above)"
    )


if __name__ == "__main__":
    main()
