"""`manage.py serve_embedded`: the embedded platform in one process.

uvicorn serves the ASGI app (HTTP + WebSocket) and the market maker runs as a task
on the same event loop, its database work in one worker thread. One process
matters here: the embedded channel layer is in memory, so order events published
by a separate market-maker process would never reach this server's WebSocket
clients. Ctrl-C (or SIGTERM) stops the server and the market maker together.

There is no Celery beat in the embedded mode, so the matcher's sweep (what
`trading.sweep` does every 2 s in production: session transitions, GTD expiries,
commands left waiting) runs here too, as a task on the same loop with its own
worker thread: the demo shares open, pause for their auctions and close on time
even when nobody trades.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import uvicorn
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from marketdata.management.commands.market_maker import (
    add_market_maker_arguments,
    build_market_maker,
    log_cycle,
)
from marketdata.marketmaker import market_maker_run
from trading.services.matching import matching_sweep

logger = logging.getLogger(__name__)


async def sweeper_run(*, stop: asyncio.Event, every: float) -> None:
    """`matching_sweep` every `every` seconds until `stop` is set. Its eager
    matching runs publish from a thread this loop made (`sync_to_async`), which is
    how the in-memory channel layer reaches the server's sockets."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweeper") as executor:
        sweep = sync_to_async(matching_sweep, thread_sensitive=False, executor=executor)
        while not stop.is_set():
            try:
                await sweep()
            except Exception:  # the next sweep tries again
                logger.exception("embedded sweep failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=every)
            except TimeoutError:
                pass
        # the worker thread's database connection goes with it
        await sync_to_async(
            connections.close_all, thread_sensitive=False, executor=executor
        )()


class Command(BaseCommand):
    help = "Serve the ASGI app with uvicorn and run the market maker in-process."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-market-maker", action="store_true", help="Serve only."
        )
        add_market_maker_arguments(parser)

    def handle(self, *args, **options):
        # One INFO line per eager matching run drowns everything else.
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        bot = feed = None
        if not options["no_market_maker"]:
            try:
                bot, feed = build_market_maker(options)
            except CommandError as error:
                self.stderr.write(f"Market maker not started: {error}")
        server = uvicorn.Server(
            uvicorn.Config(
                "config.asgi:application",
                host=options["host"],
                port=options["port"],
                lifespan="off",
                log_level="info",
                # the client address is resolved by Django alone, from
                # TRUSTED_PROXIES (config/clientip.py); uvicorn would otherwise
                # believe X-Forwarded-For from any local peer
                proxy_headers=False,
            )
        )

        async def main() -> None:
            # uvicorn installs its own SIGINT/SIGTERM handlers while serving and,
            # once stopped, re-raises the signal to the handlers it found: make
            # those harmless so the shutdown below runs to its end.
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: None)
            stop = asyncio.Event()
            maker = None
            # the production beat's period for `trading.sweep`
            every = cast(
                float, settings.CELERY_BEAT_SCHEDULE["trading-sweep"]["schedule"]
            )
            sweeper = asyncio.create_task(sweeper_run(stop=stop, every=every))
            if bot is not None:
                self.stdout.write(
                    f"Market maker {bot.maker.email} quoting "
                    f"{', '.join(bot.markets)} from {feed.name}."
                )
                maker = asyncio.create_task(
                    market_maker_run(
                        bot=bot,
                        feed=feed,
                        stop=stop,
                        refresh_seconds=options["refresh"],
                        cross_every=options["cross_every"],
                        cancel_on_exit=options["cancel_on_exit"],
                        on_cycle=log_cycle,
                    )
                )
            try:
                await server.serve()
            finally:
                stop.set()
                await sweeper
                if maker is not None:
                    await maker

        asyncio.run(main())
        self.stdout.write("Stopped.")
