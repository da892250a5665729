"""Shared by the stream benchmark and the embedded check: Django setup, seeding a
market with funded verified users, tokens, and a uvicorn subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_setup(env: dict[str, str], *, migrate: bool = True) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def seed_market(symbol: str, users: int, prefix: str):
    """An instrument (tick 1.00 USD, lot 0.01 BTC-like base) and `users` verified
    users with plenty of both assets. Idempotent."""
    from accounts.models import User
    from kyc.testing import make_verified_user
    from trading.models import Instrument
    from trading.services import instrument_create
    from wallet.models import Asset
    from wallet.tests.helpers import fund

    base_code, quote_code = symbol.split("-")
    quote, _ = Asset.objects.get_or_create(
        code=quote_code, defaults={"name": quote_code, "decimals": 2, "kind": "fiat"}
    )
    base, _ = Asset.objects.get_or_create(
        code=base_code, defaults={"name": base_code, "decimals": 8, "kind": "crypto"}
    )
    instrument = Instrument.objects.filter(symbol=symbol).first()
    if instrument is None:
        instrument = instrument_create(
            symbol=symbol,
            base=base,
            quote=quote,
            tick_size=100,
            lot_size=1_000_000,
            maker_fee_bps=10,
            taker_fee_bps=20,
            price_band_percent=0,
        )
    people = []
    for index in range(users):
        email = f"{prefix}{index}@bench.example.com"
        user = User.objects.filter(email=email).first()
        if user is None:
            user = make_verified_user(email=email)
            fund(user, base, 10**6 * 10**8)
            fund(user, quote, 10**10 * 100)
        people.append(user)
    return instrument, people


def access_token(user, minutes: int = 60) -> str:
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.authentication import TOKEN_VERSION_CLAIM

    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    access = refresh.access_token
    access.set_exp(lifetime=timedelta(minutes=minutes))
    return str(access)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_uvicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    # BENCH_SERVER_NICE=-10: the server before the simulated clients on a shared box
    nice = os.environ.get("BENCH_SERVER_NICE")
    command = [
        *(["nice", "-n", nice] if nice else []),
        sys.executable,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--ws",
        os.environ.get("BENCH_WS", "websockets-sansio"),
        "--ws-per-message-deflate",
        os.environ.get("BENCH_WS_DEFLATE", "false"),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("uvicorn exited") from None
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("uvicorn did not start")


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_backends_cpu(database: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend connected to `database` (a
    bench's share of PostgreSQL, not the other databases' on the machine)."""
    import psycopg

    with psycopg.connect(
        "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True
    ) as connection:
        pids = [
            pid
            for (pid,) in connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
            )
        ]
    seconds = {}
    for pid in pids:
        try:
            seconds[pid] = cpu_seconds(pid)
        except OSError:
            continue
    return seconds
