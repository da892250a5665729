"""Trading pipeline on the real stack: uvicorn + PostgreSQL + Redis + a Celery worker.

    python -m bench.trading --clients 32 --seconds 20

What it does, in order:
1. (Re)creates the PostgreSQL database `--db` and migrates it; creates instruments and
   `--users` KYC-approved, funded users through the real services; mints JWTs.
2. Starts uvicorn (`--web-workers` processes) on a free port with production-like
   settings (DEBUG off, PostgreSQL, Redis cache + channel layer).
3. Backlog: queues `--backlog` orders through the placement service with no worker
   running, then starts the Celery worker (`--worker-procs`, solo pool when 1, Redis
   broker) and times it until every command is applied: the matcher's settlement
   capacity, apart from how fast orders come in.
4. Baseline: `--clients` concurrent HTTP/1.1 keep-alive clients GET /api/v1/me (a
   trivial authenticated endpoint) for `--seconds`: the framework's ceiling.
5. Load: the same clients POST orders (mostly resting limits near the mid, a share
   marketable, a share of cancels of their own open orders) for `--seconds`.
6. Waits for the matcher to drain, then reads the database: orders accepted per
   second (201s over the load window), orders matched and settled per second
   (commands applied over the time from the first POST to the last commit), trades,
   and the latency from each order's creation (in the POST transaction) to the
   matcher's first decision about it (its first status change out of `pending`).
7. Proves the ledger (every invariant of `verify_ledger`) and stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def _env(args) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.db}",
        "REDIS_URL": "redis://127.0.0.1:6379/10",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
        "THROTTLE_ORDERS": "1000000/s",
        "THROTTLE_USER": "1000000/s",
        "TRADING_MAX_OPEN_ORDERS": "1000000",
        "LOG_LEVEL": "WARNING",
    }


def prepare(args) -> dict:
    """Fresh database, instruments, users, funds, tokens (through the services)."""
    env = _env(args)
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-qc",
            f"DROP DATABASE IF EXISTS {args.db}",
        ],
        check=True,
    )
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-qc",
            f"CREATE DATABASE {args.db}",
        ],
        check=True,
    )
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        ["redis-cli", "-n", "9", "flushdb"], check=True, stdout=subprocess.DEVNULL
    )
    os.environ.update(env)
    import django

    django.setup()
    from accounts.services import _issue_tokens
    from kyc.testing import make_verified_user
    from trading.services import instrument_create
    from wallet.models import Asset
    from wallet.tests.helpers import fund

    usd = Asset.objects.create(code="USD", name="US Dollar", decimals=2, kind="fiat")
    symbols = []
    for index in range(args.instruments):
        code = f"C{index}"
        base = Asset.objects.create(code=code, name=code, decimals=8, kind="crypto")
        instrument_create(
            symbol=f"{code}-USD",
            base=base,
            quote=usd,
            tick_size=1,  # 0.01 USD
            lot_size=10**8,  # 1 unit
            maker_fee_bps=10,
            taker_fee_bps=20,
            price_band_percent=0,
        )
        symbols.append((f"{code}-USD", base))
    tokens = []
    for index in range(args.users):
        user = make_verified_user(email=f"bench{index}@example.com")
        fund(user, usd, 10**14)
        for _, base in symbols:
            fund(user, base, 10**8 * 10**7)
        tokens.append(_issue_tokens(user).access)
    return {"symbols": [symbol for symbol, _ in symbols], "tokens": tokens}


def start_worker(args) -> subprocess.Popen:
    worker_cmd = [
        PY,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-c",
        str(args.worker_procs),
    ]
    if args.worker_procs == 1:
        worker_cmd += ["-P", "solo"]
    return subprocess.Popen(worker_cmd, cwd=ROOT, env=_env(args))


def start_web(args) -> list[tuple[subprocess.Popen, str]]:
    """`--web-workers` single-process uvicorn servers, each on its own port; the
    clients spread over them as a load balancer would. (One uvicorn with
    `--workers N` shares one socket, and a burst of keep-alive connections mostly
    lands on whichever process accepts first.)"""
    from bench.stack import start_uvicorn

    servers = []
    for _ in range(args.web_workers):
        port = _free_port()
        servers.append((start_uvicorn(_env(args), port), f"http://127.0.0.1:{port}"))
    return servers


def measure_backlog(args, symbols: list[str]) -> subprocess.Popen:
    """The matcher's own capacity: `--backlog` orders queued through the placement
    service while no worker runs (their messages wait in the broker), then a worker
    starts and the time until every command is applied is the settlement rate.
    Returns the worker, which stays for the load phases."""
    from django.db import connections
    from django.db.models import Count

    from accounts.models import User
    from trading.models import OrderCommand, Trade
    from trading.services import order_place

    users = list(User.objects.filter(email__startswith="bench").order_by("pk"))
    rng = random.Random(7)
    for index in range(args.backlog):
        side = rng.choice(("buy", "sell"))
        offset = rng.randint(1, 40)
        # a third cross the book: trades to settle, the rest rest
        if rng.random() < 0.33:
            ticks = 10_000 + offset if side == "buy" else 10_000 - offset
        else:
            ticks = 10_000 - offset if side == "buy" else 10_000 + offset
        order_place(
            user=users[index % len(users)],
            symbol=symbols[index % len(symbols)],
            side=side,
            price=f"{ticks // 100}.{ticks % 100:02d}",
            quantity=str(rng.randint(1, 5)),
        )
    connections.close_all()
    trades_before = Trade.objects.count()
    started = time.perf_counter()
    worker = start_worker(args)
    while OrderCommand.objects.filter(processed_at__isnull=True).exists():
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    trades = Trade.objects.count() - trades_before
    # Steady state: from the first batch's commit to the last one's, the commands
    # of every batch but the first (whose work precedes its commit time).
    commits = sorted(
        OrderCommand.objects.values_list("processed_at").annotate(n=Count("pk"))
    )
    steady = sum(n for _, n in commits[1:])
    span = (commits[-1][0] - commits[0][0]).total_seconds() if commits else 0
    print(
        f"{'backlog matched and settled':<28} "
        f"{steady / span if span else float('nan'):9.1f} commands/s steady "
        f"({args.backlog} queued orders, {trades} trades, {len(commits)} batches; "
        f"{args.backlog / elapsed:.0f}/s counting the worker's start-up)"
    )
    return worker


async def _drive(
    base_urls: list[str], tokens, seconds: float, clients: int, work
) -> list:
    import httpx

    results: list = []
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    https = [
        httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30)
        for base_url in base_urls
    ]
    try:

        async def client(index: int) -> None:
            http = https[index % len(https)]
            rng = random.Random(index)
            token = tokens[index % len(tokens)]
            headers = {"Authorization": f"Bearer {token}"}
            state: dict = {"open": []}
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                kind, response = await work(http, headers, rng, state)
                results.append(
                    (kind, response.status_code, time.perf_counter() - started)
                )

        await asyncio.gather(*(client(i) for i in range(clients)))
    finally:
        for http in https:
            await http.aclose()
    return results


def _trivial(symbols):
    async def work(http, headers, rng, state):
        return "me", await http.get("/api/v1/me", headers=headers)

    return work


def _orders(symbols, cancel_share: float, cross_share: float):
    async def work(http, headers, rng, state):
        if state["open"] and rng.random() < cancel_share:
            order_id = state["open"].pop(rng.randrange(len(state["open"])))
            return "cancel", await http.delete(
                f"/api/v1/orders/{order_id}", headers=headers
            )
        side = rng.choice(("buy", "sell"))
        mid = 10_000
        if rng.random() < cross_share:
            offset = rng.randint(1, 30)
            ticks = mid + offset if side == "buy" else mid - offset
            body = {"time_in_force": "ioc"}
        else:
            offset = rng.randint(1, 50)
            ticks = mid - offset if side == "buy" else mid + offset
            body = {}
        body.update(
            symbol=rng.choice(symbols),
            side=side,
            price=f"{ticks // 100}.{ticks % 100:02d}",
            quantity=str(rng.randint(1, 5)),
        )
        response = await http.post("/api/v1/orders", json=body, headers=headers)
        if response.status_code == 201 and not body.get("time_in_force"):
            state["open"].append(response.json()["id"])
        return "place", response

    return work


def _cpu_by_role(procs: dict[str, list[subprocess.Popen]]) -> dict[str, float]:
    """CPU seconds (user + system) so far of each part of the stack: this process
    (the simulated clients), the web server and worker process trees, and every
    PostgreSQL and Redis server process on the machine (Linux /proc)."""
    from bench.stack import cpu_seconds

    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    head, rest = stat.read().rsplit(")", 1)
                names[int(entry)] = head.split("(", 1)[1]
                parents[int(entry)] = int(rest.split()[1])
            except OSError:
                continue

    def tree(root: int) -> list[int]:
        found, todo = [], [root]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(child for child, parent in parents.items() if parent == pid)
        return found

    def total(pids) -> float:
        seconds = 0.0
        for pid in pids:
            try:
                seconds += cpu_seconds(pid)
            except OSError:
                continue
        return seconds

    usage = {"clients": total([os.getpid()])}
    for role, group in procs.items():
        usage[role] = total(pid for proc in group for pid in tree(proc.pid))
    usage["postgres"] = total(p for p, n in names.items() if n.startswith("postgres"))
    usage["redis"] = total(p for p, n in names.items() if n.startswith("redis"))
    return usage


def report_cpu(before: dict[str, float], after: dict[str, float], seconds: float):
    """Where the two cores went during a phase (cores busy = CPU s / wall s)."""
    shares = ", ".join(
        f"{role} {(after[role] - before[role]) / seconds:.2f}" for role in after
    )
    busy = sum(after[role] - before[role] for role in after) / seconds
    print(f"{'  cores busy':<28} {busy:9.2f} of {os.cpu_count()}: {shares}")


def report_load(name: str, results, seconds: float) -> None:
    ok = [r for r in results if r[1] < 400]
    latencies = [r[2] * 1000 for r in ok]
    refused = Counter(r[1] for r in results if r[1] >= 400)
    errors = ", ".join(f"{count} x {code}" for code, count in sorted(refused.items()))
    print(
        f"{name:<28} {len(ok) / seconds:9.1f} req/s ok   ({errors or 'no errors'})"
        f"   latency p50 {_percentile(latencies, 50):6.1f} ms  p99 "
        f"{_percentile(latencies, 99):6.1f} ms"
    )


def measure_pipeline(t0_wall: float, timeout: float) -> None:
    from django.db.models import Min

    from trading.models import Order, OrderCommand, OrderStatusChange, Trade
    from wallet.verification import ledger_problems

    deadline = time.time() + timeout
    while OrderCommand.objects.filter(processed_at__isnull=True).exists():
        if time.time() > deadline:
            print("matcher did not drain in time")
            break
        time.sleep(0.2)
    from datetime import UTC, datetime

    since = datetime.fromtimestamp(t0_wall, tz=UTC)
    commands = OrderCommand.objects.filter(created_at__gte=since)
    last_commit = (
        commands.order_by("-processed_at")
        .values_list("processed_at", flat=True)
        .first()
    )
    applied = commands.filter(processed_at__isnull=False).count()
    span = (last_commit - since).total_seconds() if last_commit else float("nan")
    orders = Order.objects.filter(created_at__gte=since)
    decided = dict(
        OrderStatusChange.objects.filter(order__in=orders, from_status="pending")
        .values_list("order_id")
        .annotate(first=Min("created_at"))
    )
    latencies = [
        (decided[order_id] - created).total_seconds() * 1000
        for order_id, created in orders.values_list("pk", "created_at")
        if order_id in decided
    ]
    trades = Trade.objects.filter(created_at__gte=since).count()
    print(
        f"{'matched and settled':<28} {applied / span:9.1f} commands/s "
        f"({applied} commands, {trades} trades, drained {span:.1f} s after start)"
    )
    print(
        f"{'POST -> matcher decision':<28} p50 {_percentile(latencies, 50):6.1f} ms  "
        f"p99 {_percentile(latencies, 99):6.1f} ms  ({len(latencies)} orders)"
    )
    problems = ledger_problems()
    print(
        "ledger:",
        "verified" if not problems else f"{len(problems)} problems: {problems[:5]}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench_trading")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--instruments", type=int, default=3)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--backlog", type=int, default=3000)
    parser.add_argument("--worker-procs", type=int, default=1)
    parser.add_argument("--cancel-share", type=float, default=0.2)
    parser.add_argument("--cross-share", type=float, default=0.15)
    args = parser.parse_args()
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    data = prepare(args)
    servers = start_web(args)
    if args.backlog:
        worker = measure_backlog(args, data["symbols"])
    else:
        worker = start_worker(args)
        time.sleep(2)  # let the worker connect
    procs = [process for process, _ in servers] + [worker]
    base_urls = [url for _, url in servers]
    print(
        f"stack: uvicorn x{args.web_workers} (a port each), "
        f"celery worker x{args.worker_procs}, "
        f"PostgreSQL, Redis; {args.clients} clients, {args.seconds:.0f} s per phase, "
        f"{len(data['symbols'])} instruments, {args.users} users, "
        f"{os.cpu_count()} cores"
    )
    roles = {"web": procs[:-1], "worker": [worker]}
    try:
        cpu = _cpu_by_role(roles)
        trivial = asyncio.run(
            _drive(
                base_urls,
                data["tokens"],
                args.seconds,
                args.clients,
                _trivial(data["symbols"]),
            )
        )
        report_load("GET /api/v1/me (ceiling)", trivial, args.seconds)
        cpu_after = _cpu_by_role(roles)
        report_cpu(cpu, cpu_after, args.seconds)
        cpu = cpu_after
        t0 = time.time()
        load = asyncio.run(
            _drive(
                base_urls,
                data["tokens"],
                args.seconds,
                args.clients,
                _orders(data["symbols"], args.cancel_share, args.cross_share),
            )
        )
        places = [r for r in load if r[0] == "place"]
        cancels = [r for r in load if r[0] == "cancel"]
        report_load("POST /api/v1/orders", places, args.seconds)
        report_load("DELETE /api/v1/orders/{id}", cancels, args.seconds)
        report_cpu(cpu, _cpu_by_role(roles), args.seconds)
        accepted = sum(1 for r in places if r[1] == 201)
        print(f"{'orders accepted':<28} {accepted / args.seconds:9.1f} orders/s")
        ceiling = sum(1 for r in trivial if r[1] < 400)
        placed = sum(1 for r in places if r[1] < 400)
        cancelled = sum(1 for r in cancels if r[1] < 400)
        if ceiling:  # the goal: order throughput at least half the ceiling's
            print(
                f"{'order requests / ceiling':<28} "
                f"{(placed + cancelled) / ceiling:9.2f}  "
                f"(placements alone {placed / ceiling:.2f})"
            )
        measure_pipeline(t0, timeout=300)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
