"""CPU per API request, two trees side by side: `GET /api/v1/me` and one
`POST /api/v1/orders`, through Django's WSGI handler (the whole middleware chain
and view, no network, no test client), a Bearer token as an API client sends it.

Run (PostgreSQL; the database must exist, it is migrated first; Redis for the
cache and the throttles' counters):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/api_bench \\
    REDIS_URL=redis://127.0.0.1:6379/1 \\
        python bench/apipath.py --old /work/main --new . --requests 300 --rounds 3

Each round runs each tree in its own process (`--child`), alternating, so that
the machine's drift hits both. A child uses the test settings (throttles on, at
rates no run reaches) with Celery's in-memory broker: an order is placed and
its matching job queued, not run, so the figure is the web tier's. Printed per
tree and round: the request process's CPU per request (`time.process_time`) and
that of its PostgreSQL backend (from /proc), for each endpoint, and the SQL
statements one order request sends (BEGIN and COMMIT included); then the
medians and the ratios old/new and order//me. Figures only, no pass or fail.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _backend_cpu(pid: int) -> float:
    """Seconds of CPU the PostgreSQL backend `pid` used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _child(requests: int) -> dict[str, float]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.conf import settings

    # one connection kept, as the production pool keeps them (the test settings
    # close it after each request)
    settings.DATABASES["default"]["CONN_MAX_AGE"] = None
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from config.celery import app as celery_app

    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = "memory://"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.TRADING_MAX_OPEN_ORDERS = 10**9

    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.authentication import TOKEN_VERSION_CLAIM
    from accounts.roles import Role
    from accounts.testing import make_user
    from kyc.testing import kyc_approve
    from trading.models import Instrument
    from trading.tests.helpers import make_btc_usd
    from wallet.ledger import Posting, account_ensure, ledger_post
    from wallet.models import Account, Journal

    instrument = (
        Instrument.objects.select_related("quote").filter(symbol="BTC-USD").first()
        or make_btc_usd()
    )
    suffix = f"{time.time_ns()}"
    reviewer = make_user(
        email=f"api-bench-reviewer-{suffix}@example.com",
        roles=(Role.KYC_REVIEWER,),
        is_staff=True,
    )
    user = kyc_approve(
        user=make_user(email=f"api-bench-{suffix}@example.com"), reviewer=reviewer
    )
    ledger_post(
        kind=Journal.Kind.DEPOSIT,
        reference=f"api-bench-{suffix}",
        postings=[
            Posting(
                account_ensure(asset=instrument.quote, kind=Account.Kind.EXTERNAL),
                -(10**15),
            ),
            Posting(
                account_ensure(
                    owner=user, asset=instrument.quote, kind=Account.Kind.AVAILABLE
                ),
                10**15,
            ),
        ],
    )
    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    authorization = f"Bearer {refresh.access_token}"
    handler = WSGIHandler()

    def call(method: str, path: str, body: bytes = b"") -> int:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "localhost",
            "HTTP_AUTHORIZATION": authorization,
            "HTTP_ACCEPT": "application/json",
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        if body:
            environ["CONTENT_TYPE"] = "application/json"
            environ["CONTENT_LENGTH"] = str(len(body))
        statuses: list[str] = []

        def start_response(status: str, headers: object, *_exc: object) -> Any:
            statuses.append(status)
            return None

        for _ in handler(environ, start_response):
            pass
        return int(statuses[0].split()[0])

    def order_body(index: int) -> bytes:
        price = 50_000 - index % 500
        body = {"symbol": "BTC-USD", "side": "buy", "quantity": "0.01"}
        return json.dumps({**body, "price": str(price)}).encode()

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    def measure(run) -> tuple[float, float]:
        began, began_db = time.process_time(), _backend_cpu(backend)
        for index in range(requests):
            run(index)
        return (
            (time.process_time() - began) / requests * 1e3,
            (_backend_cpu(backend) - began_db) / requests * 1e3,
        )

    def me(_index: int) -> None:
        status = call("GET", "/api/v1/me")
        if status != 200:
            raise SystemExit(f"/me answered {status}")

    def place(index: int) -> None:
        status = call("POST", "/api/v1/orders", order_body(index))
        if status != 201:
            raise SystemExit(f"an order placement answered {status}")

    for index in range(30):  # warm: imports, statements, the kept user
        me(index)
        place(index)
    statements: list[str] = []

    def counted(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        place(30)
    me_ms, me_db_ms = measure(me)
    order_ms, order_db_ms = measure(place)
    return {
        "me_ms": me_ms,
        "me_db_ms": me_db_ms,
        "order_ms": order_ms,
        "order_db_ms": order_db_ms,
        "order_statements": len(statements),
    }


def _run_child(tree: Path, requests: int, database_url: str | None) -> dict[str, float]:
    python = tree / ".venv" / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    if database_url:
        env["DATABASE_URL"] = database_url
    result = subprocess.run(
        [str(python), str(Path(__file__).resolve()), "--child", str(requests)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{tree}: {result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(_child(int(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--old", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    # trees far apart have different migrations: each can have its own database
    parser.add_argument("--old-database-url", help="default: DATABASE_URL")
    parser.add_argument("--new-database-url", help="default: DATABASE_URL")
    args = parser.parse_args()
    print(f"load average at the start: {os.getloadavg()}")
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for round_ in range(args.rounds):
        for name in ("old", "new") if round_ % 2 == 0 else ("new", "old"):
            tree = args.old if name == "old" else args.new
            database_url = (
                args.old_database_url if name == "old" else args.new_database_url
            )
            figures = _run_child(tree.resolve(), args.requests, database_url)
            runs[name].append(figures)
            print(
                f"round {round_ + 1} {name}: /me {figures['me_ms']:.3f} ms"
                f" (+ PostgreSQL {figures['me_db_ms']:.3f}),"
                f" order {figures['order_ms']:.3f} ms"
                f" (+ PostgreSQL {figures['order_db_ms']:.3f}),"
                f" {figures['order_statements']:.0f} statements per order",
                flush=True,
            )
    medians = {
        name: {
            key: statistics.median(run[key] for run in figures) for key in figures[0]
        }
        for name, figures in runs.items()
    }
    for name, figures in medians.items():
        me_all = figures["me_ms"] + figures["me_db_ms"]
        order_all = figures["order_ms"] + figures["order_db_ms"]
        print(
            f"median {name}: /me {figures['me_ms']:.3f} ms (with PostgreSQL"
            f" {me_all:.3f}), order {figures['order_ms']:.3f} ms (with PostgreSQL"
            f" {order_all:.3f}); order / me {order_all / me_all:.2f}"
        )
    old, new = medians["old"], medians["new"]
    print(
        f"old / new: /me {old['me_ms'] / new['me_ms']:.2f}x in the web process,"
        f" {(old['me_ms'] + old['me_db_ms']) / (new['me_ms'] + new['me_db_ms']):.2f}x"
        f" with PostgreSQL; order {old['order_ms'] / new['order_ms']:.2f}x"
    )
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
