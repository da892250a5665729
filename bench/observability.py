"""What logs and traces cost: an order placement with tracing off and on, side by
side, and the per-call cost of the pieces on the hot paths.

Run (PostgreSQL; the database must exist, it is migrated first):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/obs_bench \\
        python -m bench.observability --orders 300 --rounds 4

Test settings (no throttles, eager Celery: each placement runs its matching job
in the request, as the embedded mode does). Each round places `--orders` resting
buy orders through `POST /api/v1/orders` (Django's test client: the whole
middleware chain and view, no network) with tracing off, then the same with
tracing on (every span exported at once to an in-memory exporter: an upper bound
of what a batching OTLP exporter costs the request), alternating so that drift
hits both. Printed: the median time per placement for each, the difference, and
the per-call cost of `tracing.span()` off, of binding ids to the log context, and
of the redaction of one log line. Figures only, no pass or fail.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
import timeit
from contextvars import copy_context


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _place_round(client, count: int, start_price: int) -> float:
    """Seconds per placement (median of `count`)."""
    times = []
    for index in range(count):
        body = {
            "symbol": "BTC-USD",
            "side": "buy",
            "price": str(start_price - index % 500),
            "quantity": "0.01",
        }
        began = time.perf_counter()
        response = client.post("/api/v1/orders", body, format="json")
        times.append(time.perf_counter() - began)
        if response.status_code != 201:
            raise SystemExit(f"placement refused: {response.content!r}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    _setup()

    from django.conf import settings
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )
    from structlog.contextvars import bind_contextvars, clear_contextvars

    from accounts.roles import Role
    from accounts.testing import api_client_for, make_user
    from config import tracing
    from config.logging import log_context, scrub
    from kyc.testing import kyc_approve
    from trading.models import Instrument
    from trading.services import order_cancel_all
    from trading.tests.helpers import make_btc_usd
    from wallet.ledger import Posting, account_ensure, ledger_post
    from wallet.models import Account, Journal

    settings.TRADING_MAX_OPEN_ORDERS = 10**9
    instrument = (
        Instrument.objects.select_related("quote").filter(symbol="BTC-USD").first()
        or make_btc_usd()
    )
    suffix = int(time.time())
    reviewer = make_user(
        email=f"obs-bench-reviewer-{suffix}@example.com",
        roles=(Role.KYC_REVIEWER,),
        is_staff=True,
    )
    user = kyc_approve(
        user=make_user(email=f"obs-bench-{suffix}@example.com"), reviewer=reviewer
    )
    ledger_post(
        kind=Journal.Kind.DEPOSIT,
        reference=f"obs-bench-{suffix}",
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

    off: list[float] = []
    on: list[float] = []
    spans = 0
    for _ in range(args.rounds):
        off.append(_place_round(api_client_for(user), args.orders, 50_000))
        exporter = InMemorySpanExporter()
        tracing.tracing_init(service_name="bench", exporter=exporter)
        try:
            # a new client: Django loads the middleware with the tracing one
            on.append(_place_round(api_client_for(user), args.orders, 50_000))
            spans = len(exporter.get_finished_spans())
        finally:
            tracing.tracing_shutdown()
        order_cancel_all(user=user)

    def per_call(statement, number: int = 200_000) -> float:
        return min(timeit.repeat(statement, number=number, repeat=3)) / number * 1e9

    def span_block() -> None:
        with tracing.span("x"):
            pass

    def ids_block() -> None:
        with log_context(order_id=1, instrument_id=2):
            pass

    span_off = per_call(span_block)
    with_ids = per_call(ids_block)

    def bind_clear() -> None:
        bind_contextvars(order_id=1)
        clear_contextvars()

    bind = per_call(bind_clear)
    line = (
        '(0.003) INSERT INTO "trading_order" ("user_id", "price_ticks") '
        "VALUES (41, 9000000); args=(41, 9000000); alias=default"
    )
    redaction = per_call(lambda: scrub(line), number=50_000)

    off_ms, on_ms = statistics.median(off) * 1000, statistics.median(on) * 1000
    print(f"python {platform.python_version()}, {platform.machine()}, ", end="")
    print(f"{os.cpu_count()} cpus; {args.rounds} rounds of {args.orders} placements")
    print(f"placement, tracing off:   {off_ms:7.3f} ms (median of round medians)")
    print(f"placement, tracing on:    {on_ms:7.3f} ms ({spans} spans a round)")
    print(f"difference:               {on_ms - off_ms:+7.3f} ms")
    print(f"rounds off: {', '.join(f'{t * 1000:.3f}' for t in off)} ms")
    print(f"rounds on:  {', '.join(f'{t * 1000:.3f}' for t in on)} ms")
    print(f"with tracing.span() off:  {span_off:7.0f} ns a call")
    print(f"with log_context(2 ids):  {with_ids:7.0f} ns a call")
    print(f"bind + clear one id:      {bind:7.0f} ns a call")
    print(f"scrub() of one SQL line:  {redaction:7.0f} ns a call")
    print(f"context variables in this thread's context: {len(copy_context())}")


if __name__ == "__main__":
    main()
