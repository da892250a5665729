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
4. Baseline: `--clients` concurrent HTTP/1.1 keep-alive clients (aiohttp) GET
   /api/v1/me (a trivial authenticated endpoint) for `--seconds`: the framework's
   ceiling.
5. Load: the same clients POST orders (mostly resting limits near the mid, a share
   marketable, a share of cancels of their own open orders) for `--seconds`: one
   order per request, or `--batch N` per POST /api/v1/orders/batch (cancels by
   /orders/batch-cancel); back to back, or open-loop at `--rate` commands/s.
   `--stream-users` users listen on /ws/user/ meanwhile.
6. Waits for the matcher to drain, then reads the database: orders accepted per
   second (201s over the load window), orders matched and settled per second
   (commands applied over the time from the first POST to the last commit), trades,
   matching runs, and the latency from sending an order's POST to its first
   decided state (resting, filled, cancelled...) arriving on the user's stream,
   and the part of it from the matcher's decision to the client.
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
    channels = broker = str(args.redis_db)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.db}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{channels}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{broker}",
        "THROTTLE_ORDERS": "1000000/s",
        "THROTTLE_USER": "1000000/s",
        "TRADING_MAX_OPEN_ORDERS": "1000000",
        "LOG_LEVEL": "WARNING",
        "TRADING_MATCH_SHARDS": str(args.match_shards),
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
    # the bench's own Redis database (--redis-db): broker messages and channel
    # groups a previous run left would be consumed or joined by this one
    subprocess.run(
        ["redis-cli", "-n", str(args.redis_db), "flushdb"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    os.environ.update(env)
    import django

    django.setup()
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
    for index in range(args.users):
        user = make_verified_user(email=f"bench{index}@example.com")
        fund(user, usd, 10**14)
        for _, base in symbols:
            fund(user, base, 10**8 * 10**7)
    return {"symbols": [symbol for symbol, _ in symbols]}


def fresh_tokens() -> list[str]:
    """Access tokens minted just before a phase: they live minutes, and the setup
    and the backlog before a phase can outlast tokens minted with the users (the
    phase would then count 401s as requests)."""
    from accounts.models import User
    from accounts.services import _issue_tokens

    users = User.objects.filter(email__startswith="bench").order_by("pk")
    return [_issue_tokens(user).access for user in users]


# Answers a phase expects besides 2xx: a cancel may find its order already filled.
EXPECTED_REFUSALS = {"cancel": {404, 409}}


def unexpected_answers(results) -> Counter:
    """Non-2xx answers a phase did not expect (by kind and status)."""
    return Counter(
        (kind, status)
        for kind, status, *_ in results
        if status >= 300 and status not in EXPECTED_REFUSALS.get(kind, ())
    )


def start_workers(args) -> dict[str, list[subprocess.Popen]]:
    """The Celery workers, by role, as the stack's Procfile runs them: with
    `--match-shards N` > 1, `--matching-workers` solo workers sharing the
    matching queues `matching-0..N-1` (each keeps its instruments' books) and a
    default worker of `--worker-procs` processes for everything else (the
    notifications' deliveries); with one shard, one worker on the default queue
    does both (a solo pool when `--worker-procs` is 1), and a matching run
    waits behind the deliveries queued before it."""
    nice = os.environ.get("BENCH_WORKER_NICE")
    base = [
        *(["nice", "-n", nice] if nice else []),
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
    ]

    def start(command: list[str], name: str) -> subprocess.Popen:
        env = {**_env(args), "PGAPPNAME": name}
        return subprocess.Popen(command, cwd=ROOT, env=env)

    pool = ["-P", "solo"] if args.worker_procs == 1 else []
    if args.match_shards <= 1:
        return {
            "worker": [start([*base, "-c", str(args.worker_procs), *pool], "matcher")]
        }
    count = max(1, min(args.matching_workers, args.match_shards))
    matchers = [
        start(
            [
                *base,
                "-P",
                "solo",
                "-n",
                f"matcher{index}@%h",
                "-Q",
                ",".join(
                    f"matching-{shard}"
                    for shard in range(index, args.match_shards, count)
                ),
            ],
            "matcher",
        )
        for index in range(count)
    ]
    default = start(
        [
            *base,
            "-n",
            "default@%h",
            "-Q",
            "celery",
            "-c",
            str(args.worker_procs),
            *pool,
        ],
        "worker",
    )
    return {"matcher": matchers, "worker": [default]}


def start_web(args) -> list[tuple[subprocess.Popen, str]]:
    """`--web-workers` single-process uvicorn servers, each on its own port; the
    clients spread over them as a load balancer would. (One uvicorn with
    `--workers N` shares one socket, and a burst of keep-alive connections mostly
    lands on whichever process accepts first.)"""
    from bench.stack import start_uvicorn

    servers = []
    for _ in range(args.web_workers):
        port = _free_port()
        env = {**_env(args), "PGAPPNAME": "web"}
        servers.append((start_uvicorn(env, port), f"http://127.0.0.1:{port}"))
    return servers


def measure_backlog(args, symbols: list[str]) -> dict[str, list[subprocess.Popen]]:
    """The matcher's own capacity: `--backlog` orders queued through the placement
    service while no worker runs (their messages wait in the broker), then a worker
    starts and the time until every command is applied is the settlement rate.
    Returns the workers, which stay for the load phases."""
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
    workers = start_workers(args)
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
    return workers


async def _drive(
    base_urls: list[str],
    tokens,
    seconds: float,
    clients: int,
    work,
    interval: float = 0.0,
) -> list:
    """`clients` keep-alive clients doing `work` for `seconds`: back to back, or
    (`interval` > 0) each starting a request every `interval` seconds, staggered,
    and at once when it is behind (an open-loop load at a set rate)."""
    import aiohttp

    results: list = []
    stop_at = time.perf_counter() + seconds
    connector_limit = max(1, clients // len(base_urls) + 1)
    https = [
        _Http(
            aiohttp.ClientSession(
                base_url,
                connector=aiohttp.TCPConnector(limit=connector_limit),
                timeout=aiohttp.ClientTimeout(total=30),
            )
        )
        for base_url in base_urls
    ]
    try:

        async def client(index: int) -> None:
            http = https[index % len(https)]
            rng = random.Random(index)
            token = tokens[index % len(tokens)]
            headers = {"Authorization": f"Bearer {token}"}
            state: dict = {"open": [], "token": token}
            due = time.perf_counter() + interval * index / clients
            while time.perf_counter() < stop_at:
                if interval:
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    due += interval
                started = time.perf_counter()
                kind, response, items = await work(http, headers, rng, state)
                results.append(
                    (kind, response.status_code, time.perf_counter() - started, items)
                )

        await asyncio.gather(*(client(i) for i in range(clients)))
    finally:
        for http in https:
            await http.session.close()
    return results


class _Response:
    __slots__ = ("status_code", "body")

    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code = status_code
        self.body = body

    def json(self):
        import json

        return json.loads(self.body)


class _Http:
    """The few calls the clients make, on aiohttp (httpx cost the simulated
    clients, which share the machine with the stack, about twice the CPU)."""

    def __init__(self, session) -> None:
        self.session = session

    async def _send(self, method: str, path: str, **kwargs) -> _Response:
        async with self.session.request(method, path, **kwargs) as response:
            return _Response(response.status, await response.read())

    async def get(self, path: str, **kwargs) -> _Response:
        return await self._send("GET", path, **kwargs)

    async def post(self, path: str, **kwargs) -> _Response:
        return await self._send("POST", path, **kwargs)

    async def delete(self, path: str, **kwargs) -> _Response:
        return await self._send("DELETE", path, **kwargs)


def _trivial(symbols):
    async def work(http, headers, rng, state):
        response = await http.get("/api/v1/me", headers=headers)
        return "me", response, int(response.status_code < 400)

    return work


def _order_body(symbols, rng, cross_share: float) -> dict:
    """Mostly resting limits near the mid; `cross_share` marketable IOC limits."""
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
    return body


def _orders(symbols, cancel_share: float, cross_share: float, sent: dict):
    """One order or one cancel per request. `sent`: order id -> when its POST
    was sent (perf_counter), for the users whose token is in `sent["tokens"]`
    (their streams are listened to, for the latency)."""

    async def work(http, headers, rng, state):
        if state["open"] and rng.random() < cancel_share:
            order_id = state["open"].pop(rng.randrange(len(state["open"])))
            response = await http.delete(f"/api/v1/orders/{order_id}", headers=headers)
            return "cancel", response, int(response.status_code < 400)
        body = _order_body(symbols, rng, cross_share)
        started = time.perf_counter()
        response = await http.post("/api/v1/orders", json=body, headers=headers)
        if response.status_code == 201:
            order_id = response.json()["id"]
            if state["token"] in sent["tokens"]:
                sent[order_id] = started
            if not body.get("time_in_force"):
                state["open"].append(order_id)
        return "place", response, int(response.status_code == 201)

    return work


def _order_batches(
    symbols, cancel_share: float, cross_share: float, size: int, sent: dict
):
    """`size` orders per POST /api/v1/orders/batch, or a batch cancel of up to
    `size` of the client's open orders (`cancel_share` of the requests)."""

    async def work(http, headers, rng, state):
        if state["open"] and rng.random() < cancel_share:
            rng.shuffle(state["open"])
            ids, state["open"] = state["open"][:size], state["open"][size:]
            response = await http.post(
                "/api/v1/orders/batch-cancel", json={"ids": ids}, headers=headers
            )
            done = 0
            if response.status_code == 200:
                done = sum(r["status"] < 400 for r in response.json()["results"])
            return "cancel", response, done
        bodies = [_order_body(symbols, rng, cross_share) for _ in range(size)]
        started = time.perf_counter()
        response = await http.post(
            "/api/v1/orders/batch", json={"orders": bodies}, headers=headers
        )
        accepted = 0
        if response.status_code == 200:
            for body, result in zip(bodies, response.json()["results"], strict=True):
                if result["status"] != 201:
                    continue
                accepted += 1
                order_id = result["order"]["id"]
                if state["token"] in sent["tokens"]:
                    sent[order_id] = started
                if not body.get("time_in_force"):
                    state["open"].append(order_id)
        return "place", response, accepted

    return work


def _stream_ticket(base_url: str, token: str) -> str:
    """A single-use /ws/user/ ticket (access tokens are not accepted there)."""
    import json
    import urllib.request

    request = urllib.request.Request(
        f"{base_url}/api/v1/stream-tickets",
        data=b"",
        headers={"Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["ticket"]


async def _listen(base_url: str, token: str, decided: dict, stop: asyncio.Event):
    """The user's stream: when each order's first decided state (anything but
    pending) arrives, by order id: (perf_counter, milliseconds since the matcher
    stamped the order's `updated_at`, i.e. the time the decision spent between
    the matcher and the client)."""
    import json
    from datetime import datetime

    import websockets

    loop = asyncio.get_running_loop()
    ticket = await loop.run_in_executor(None, _stream_ticket, base_url, token)
    url = base_url.replace("http://", "ws://") + f"/ws/user/?ticket={ticket}"
    async with websockets.connect(url, max_queue=None) as socket_:
        while not stop.is_set():
            try:
                text = await asyncio.wait_for(socket_.recv(), 0.5)
            except TimeoutError:
                continue
            arrived = time.perf_counter()
            message = json.loads(text)
            if message.get("type") == "order":
                order = message["order"]
                if order["status"] != "pending" and order["id"] not in decided:
                    stamped = datetime.fromisoformat(order["updated_at"])
                    decided[order["id"]] = (
                        arrived,
                        (time.time() - stamped.timestamp()) * 1000,
                    )


CpuSample = dict[str, dict[int, float]]  # role -> pid -> CPU seconds so far


def _cpu_by_role(procs: dict[str, list[subprocess.Popen]], db: str) -> CpuSample:
    """CPU seconds (user + system) so far of each process of the stack, by role:
    this process (the simulated clients), the web server and worker process
    trees, the PostgreSQL backends of the bench's own database (by application
    name: web, matcher, other) and the Redis servers (Linux /proc). Other
    databases' backends on the machine are not the stack's and are not counted."""
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

    def each(pids) -> dict[int, float]:
        seconds = {}
        for pid in pids:
            try:
                seconds[pid] = cpu_seconds(pid)
            except OSError:
                continue
        return seconds

    usage: CpuSample = {"clients": each([os.getpid()])}
    for role, group in procs.items():
        usage[role] = each(pid for proc in group for pid in tree(proc.pid))
    for role, pids in _own_backends(db).items():
        usage[f"pg:{role}"] = each(pids)
    usage["redis"] = each(p for p, n in names.items() if n.startswith("redis"))
    return usage


def _own_backends(db: str) -> dict[str, set[int]]:
    """The PostgreSQL backend pids connected to the bench's database, by
    application name ("web", "matcher", anything else "other")."""
    import psycopg

    with psycopg.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as connection:
        rows = connection.execute(
            "SELECT application_name, pid FROM pg_stat_activity WHERE datname = %s",
            (db,),
        ).fetchall()
    found: dict[str, set[int]] = {"web": set(), "matcher": set(), "other": set()}
    for name, pid in rows:
        found[name if name in ("web", "matcher") else "other"].add(pid)
    return found


def _spent(before: CpuSample, after: CpuSample) -> dict[str, float]:
    """CPU seconds each role spent between two samples: by process, so a backend
    that ended between them takes nothing away (a sum of totals went negative)."""
    return {
        role: sum(
            max(0.0, seconds - before.get(role, {}).get(pid, 0.0))
            for pid, seconds in pids.items()
        )
        for role, pids in after.items()
    }


def report_cpu(before: CpuSample, after: CpuSample, seconds: float):
    """Where the cores went during a phase (cores busy = CPU s / wall s), and the
    stack's share of the machine's cores."""
    spent = _spent(before, after)
    shares = ", ".join(f"{role} {used / seconds:.2f}" for role, used in spent.items())
    busy = sum(spent.values()) / seconds
    print(
        f"{'  cores busy':<28} {busy:9.2f} of {os.cpu_count()} "
        f"({busy / (os.cpu_count() or 1):.0%} of the machine): {shares}"
    )


def report_load(name: str, results, seconds: float, unit: str = "") -> None:
    ok = [r for r in results if r[1] < 400]
    latencies = [r[2] * 1000 for r in ok]
    refused = Counter(r[1] for r in results if r[1] >= 400)
    errors = ", ".join(f"{count} x {code}" for code, count in sorted(refused.items()))
    items = f", {sum(r[3] for r in ok) / seconds:.1f} {unit}/s" if unit else ""
    print(
        f"{name:<28} {len(ok) / seconds:9.1f} req/s ok{items}"
        f"   ({errors or 'no errors'})"
        f"   latency p50 {_percentile(latencies, 50):6.1f} ms  p99 "
        f"{_percentile(latencies, 99):6.1f} ms"
    )


def wait_drained(timeout: float) -> None:
    from trading.models import OrderCommand

    deadline = time.time() + timeout
    while OrderCommand.objects.filter(processed_at__isnull=True).exists():
        if time.time() > deadline:
            print("matcher did not drain in time")
            return
        time.sleep(0.2)


def measure_pipeline(t0_wall: float, sent: dict, decided: dict) -> None:
    """What the matcher did with the load (read from the database once drained)
    and the end-to-end latency of the sampled users' orders: from sending the
    POST to their first decided state (matched and settled, or resting) arriving
    on the user's stream."""
    from datetime import UTC, datetime

    from trading.models import OrderCommand, Trade
    from wallet.verification import ledger_problems

    since = datetime.fromtimestamp(t0_wall, tz=UTC)
    commands = OrderCommand.objects.filter(created_at__gte=since)
    last_commit = (
        commands.order_by("-processed_at")
        .values_list("processed_at", flat=True)
        .first()
    )
    applied = commands.filter(processed_at__isnull=False).count()
    span = (last_commit - since).total_seconds() if last_commit else float("nan")
    trades = Trade.objects.filter(created_at__gte=since).count()
    # a run stamps its commands with one processed_at
    runs = commands.values("instrument_id", "processed_at").distinct().count()
    print(
        f"{'matched and settled':<28} {applied / span:9.1f} commands/s "
        f"({applied} commands, {trades} trades, drained {span:.1f} s after start; "
        f"{runs} matching runs, {applied / max(runs, 1):.0f} commands each)"
    )
    latencies = [
        (decided[order_id][0] - started) * 1000
        for order_id, started in sent.items()
        if order_id in decided
    ]
    transit = [in_transit for _, in_transit in decided.values()]
    print(
        f"{'POST -> final state (stream)':<28} p50 {_percentile(latencies, 50):6.1f} ms"
        f"  p99 {_percentile(latencies, 99):6.1f} ms  ({len(latencies)} orders of "
        f"the sampled users; {len(sent) - len(latencies)} not seen)"
    )
    print(
        f"{'  of which matcher -> stream':<28} p50 {_percentile(transit, 50):6.1f} ms"
        f"  p99 {_percentile(transit, 99):6.1f} ms  (from the decision's "
        "updated_at to its arrival: publishing, Redis, the server's WebSocket)"
    )
    problems = ledger_problems()
    print(
        "ledger:",
        "verified" if not problems else f"{len(problems)} problems: {problems[:5]}",
    )


async def load_phase(args, base_urls, tokens, work, decided, sampled, cpu) -> list:
    """The clients for `--seconds` while the sampled users' streams listen; the
    streams stay until the matcher has drained. `cpu` starts with the roles; the
    time and their CPU at the end of the load and once drained are appended."""
    stop = asyncio.Event()
    listeners = [
        asyncio.ensure_future(
            _listen(base_urls[index % len(base_urls)], token, decided, stop)
        )
        for index, token in enumerate(sampled)
    ]
    await asyncio.sleep(1)  # connected and subscribed
    # --rate: requests carry --batch orders (or one); cancels take their share
    per_request = max(args.batch, 1)
    interval = args.clients * per_request / args.rate if args.rate else 0.0
    results = await _drive(
        base_urls, tokens, args.seconds, args.clients, work, interval
    )
    cpu.append((time.perf_counter(), _cpu_by_role(cpu[0], args.db)))
    await asyncio.to_thread(wait_drained, 300)
    cpu.append((time.perf_counter(), _cpu_by_role(cpu[0], args.db)))
    await asyncio.sleep(0.5)  # the last batch's events
    stop.set()
    await asyncio.gather(*listeners, return_exceptions=True)
    return results


def cpu_speed() -> float:
    """Seconds of CPU for a fixed loop of Python arithmetic. This VM's cores run
    the same code up to half again slower at times; printed before and after the
    run, it tells which runs can be compared."""
    started = time.process_time()
    total = 0
    for number in range(3_000_000):
        total += number * number
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="bench_trading")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--instruments", type=int, default=3)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--backlog", type=int, default=3000)
    parser.add_argument(
        "--worker-procs",
        type=int,
        default=2,
        help="processes of the default worker (the stack's: 2; 1 = a solo pool)",
    )
    parser.add_argument(
        "--match-shards",
        type=int,
        default=2,
        help="matching queues (TRADING_MATCH_SHARDS; the stack's: 2; 1 = the"
        " default queue, one worker for everything)",
    )
    parser.add_argument(
        "--matching-workers",
        type=int,
        default=1,
        help="solo workers sharing the matching queues (the stack's: 1)",
    )
    parser.add_argument("--cancel-share", type=float, default=0.2)
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        help="orders per POST /api/v1/orders/batch (0: one order per request)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="commands (orders and cancels) per second to offer, each client on a "
        "fixed schedule (0: every client back to back, as fast as served)",
    )
    parser.add_argument(
        "--stream-users",
        type=int,
        default=4,
        help="users whose /ws/user/ streams are read for the end-to-end latency",
    )
    parser.add_argument("--cross-share", type=float, default=0.15)
    parser.add_argument(
        "--redis-db",
        type=int,
        default=int(os.environ.get("BENCH_REDIS_DB", "9")),
        help="the Redis database the bench owns (flushed at the start): channel "
        "layer and Celery broker (default: BENCH_REDIS_DB or 9)",
    )
    args = parser.parse_args()
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    speed_before = cpu_speed()
    data = prepare(args)
    servers = start_web(args)
    if args.backlog:
        workers = measure_backlog(args, data["symbols"])
    else:
        workers = start_workers(args)
        time.sleep(2)  # let the workers connect
    web = [process for process, _ in servers]
    procs = web + [process for group in workers.values() for process in group]
    base_urls = [url for _, url in servers]
    print(
        f"stack: uvicorn x{args.web_workers} (a port each), "
        + (
            f"{len(workers['matcher'])} solo matching worker(s) on"
            f" {args.match_shards} matching queues, a default worker"
            f" x{args.worker_procs}, "
            if "matcher" in workers
            else f"celery worker x{args.worker_procs} (matching and the rest), "
        )
        + f"PostgreSQL, Redis; {args.clients} clients, {args.seconds:.0f} s per "
        f"phase, {len(data['symbols'])} instruments, {args.users} users, "
        f"{os.cpu_count()} cores; Redis db {args.redis_db}; load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    roles: dict[str, list[subprocess.Popen]] = {"web": web, **workers}
    unexpected: Counter = Counter()
    try:
        cpu = _cpu_by_role(roles, args.db)
        trivial = asyncio.run(
            _drive(
                base_urls,
                fresh_tokens(),
                args.seconds,
                args.clients,
                _trivial(data["symbols"]),
            )
        )
        report_load("GET /api/v1/me (ceiling)", trivial, args.seconds)
        unexpected += unexpected_answers(trivial)
        cpu_after = _cpu_by_role(roles, args.db)
        report_cpu(cpu, cpu_after, args.seconds)
        cpu = cpu_after
        tokens = fresh_tokens()
        # client i uses token i mod users: the first --stream-users of those
        # listen to their streams, for the latency of their orders
        sampled = tokens[: min(args.stream_users, args.clients, len(tokens))]
        sent: dict = {"tokens": set(sampled)}
        decided: dict[int, tuple[float, float]] = {}
        if args.batch:
            work = _order_batches(
                data["symbols"],
                args.cancel_share,
                args.cross_share,
                args.batch,
                sent,
            )
            place_name, cancel_name = (
                f"POST /orders/batch ({args.batch})",
                f"POST /orders/batch-cancel (<={args.batch})",
            )
        else:
            work = _orders(data["symbols"], args.cancel_share, args.cross_share, sent)
            place_name, cancel_name = (
                "POST /api/v1/orders",
                "DELETE /api/v1/orders/{id}",
            )
        t0 = time.time()
        usage: list = [roles]
        load = asyncio.run(
            load_phase(args, base_urls, tokens, work, decided, sampled, usage)
        )
        (loaded_at, loaded), (drained_at, drained) = usage[1:]
        places = [r for r in load if r[0] == "place"]
        cancels = [r for r in load if r[0] == "cancel"]
        report_load(place_name, places, args.seconds, "orders")
        report_load(cancel_name, cancels, args.seconds, "cancels")
        unexpected += unexpected_answers(load)
        report_cpu(cpu, loaded, args.seconds)
        if drained_at - loaded_at > 0.5:
            print(f"{'  then draining':<28} {drained_at - loaded_at:9.1f} s")
            report_cpu(loaded, drained, drained_at - loaded_at)
        accepted = sum(r[3] for r in places)
        cancelled = sum(r[3] for r in cancels)
        print(f"{'orders accepted':<28} {accepted / args.seconds:9.1f} orders/s")
        ceiling = sum(1 for r in trivial if r[1] < 400)
        if ceiling:  # the goal: order throughput at least half the ceiling's
            print(
                f"{'orders+cancels / ceiling':<28} "
                f"{(accepted + cancelled) / ceiling:9.2f}  "
                f"(orders alone {accepted / ceiling:.2f}; requests "
                f"{(len(places) + len(cancels)) / ceiling:.2f})"
            )
        del sent["tokens"]
        measure_pipeline(t0, sent, decided)
        print(
            f"{'cpu speed (lower: faster)':<28} {speed_before:.3f} s before, "
            f"{cpu_speed():.3f} s after (the same loop of Python arithmetic)"
        )
        if unexpected:
            # a figure that counts refusals as requests measures nothing
            listed = ", ".join(f"{n} x {k} {s}" for (k, s), n in unexpected.items())
            sys.exit(f"FAILED: answers the bench did not expect: {listed}")
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
