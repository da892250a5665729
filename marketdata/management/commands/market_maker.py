"""`manage.py market_maker`: quote a ladder around a reference price.

In production (Redis channel layer) run it as its own process next to the ASGI
servers. In the embedded mode use `manage.py serve_embedded`, which runs the same
loop inside the server process (the in-memory channel layer is per process: order
events from another process would never reach the WebSocket clients).
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal

from django.core.management.base import BaseCommand, CommandError

from marketdata.feeds import FeedError, feed_from_spec
from marketdata.marketmaker import (
    DEMO_MARKETS,
    MAKER_EMAIL,
    TAKER_EMAIL,
    MarketMaker,
    MarketSettings,
    market_maker_run,
)

logger = logging.getLogger(__name__)


def add_market_maker_arguments(parser) -> None:
    group = parser.add_argument_group("market maker")
    group.add_argument(
        "--symbol",
        action="append",
        dest="symbols",
        help="Instrument to quote (repeat for more). Default: the demo instruments "
        f"that exist and trade ({', '.join(DEMO_MARKETS)}).",
    )
    group.add_argument(
        "--feed",
        default="replay",
        help="replay (the bundled sample, looping), replay:PATH, or binance.",
    )
    group.add_argument(
        "--reference",
        default="",
        help="A fixed reference instead of a feed: static:95000 (one symbol) or "
        "static:BTC-USD=95000,ETH-USD=3400.",
    )
    group.add_argument(
        "--speed", type=float, default=1.0, help="Replay speed; 0 = max."
    )
    group.add_argument("--levels", type=int, help="Levels per side.")
    group.add_argument("--spacing-bps", type=int, help="Level spacing, basis points.")
    group.add_argument("--spacing-ticks", type=int, help="Level spacing, in ticks.")
    group.add_argument("--size", help="Base quantity per level, e.g. 0.05.")
    group.add_argument("--max-inventory", help="Most base the bot may hold, e.g. 25.")
    group.add_argument("--cross-size", help="Base quantity of each crossing order.")
    group.add_argument(
        "--cross-every",
        type=float,
        default=4.0,
        help="Seconds between small crossing IOC orders (about); 0 = never.",
    )
    group.add_argument("--refresh", type=float, default=1.0, help="Seconds per cycle.")
    group.add_argument("--maker", default=MAKER_EMAIL, help="The quoting account.")
    group.add_argument(
        "--taker", default=TAKER_EMAIL, help="The crossing account ('' = none)."
    )
    group.add_argument(
        "--cancel-on-exit",
        action="store_true",
        help="Cancel the ladder when stopping (default: leave it; a restart adopts "
        "it).",
    )
    group.add_argument("--seed", type=int, help="Random seed for the crosses.")


def build_market_maker(options: dict):
    """(bot, feed) from the command's options; CommandError when unusable."""
    from accounts.models import User
    from trading.models import Instrument

    symbols = [s.upper() for s in options.get("symbols") or []]
    if not symbols:
        symbols = list(
            Instrument.objects.filter(
                symbol__in=list(DEMO_MARKETS), status=Instrument.Status.TRADING
            ).values_list("symbol", flat=True)
        )
    if not symbols:
        raise CommandError(
            "No instrument to quote: create one or run `manage.py seed_demo`."
        )
    unknown = set(symbols) - set(
        Instrument.objects.filter(symbol__in=symbols).values_list("symbol", flat=True)
    )
    if unknown:
        raise CommandError(f"Unknown symbol(s): {', '.join(sorted(unknown))}")
    maker = User.objects.filter(email__iexact=options["maker"]).first()
    if maker is None:
        raise CommandError(
            f"No user {options['maker']}: run `manage.py seed_demo` first."
        )
    taker = None
    if options.get("taker"):
        taker = User.objects.filter(email__iexact=options["taker"]).first()
    markets = {}
    for symbol in symbols:
        base = DEMO_MARKETS.get(symbol, MarketSettings())
        overrides = {
            key: options[name]
            for key, name in (
                ("levels", "levels"),
                ("spacing_bps", "spacing_bps"),
                ("spacing_ticks", "spacing_ticks"),
                ("size", "size"),
                ("max_inventory", "max_inventory"),
                ("cross_size", "cross_size"),
            )
            if options.get(name) is not None
        }
        markets[symbol] = MarketSettings(**{**base.__dict__, **overrides})
    try:
        feed = feed_from_spec(
            options.get("reference") or options.get("feed") or "replay",
            symbols=symbols,
            speed=options.get("speed", 1.0),
        )
    except (FeedError, ValueError) as error:
        raise CommandError(str(error)) from None
    rng = random.Random(options.get("seed"))
    return MarketMaker(maker=maker, taker=taker, markets=markets, rng=rng), feed


def log_cycle(symbol, result) -> None:
    if result.placed or result.cancelled or result.skipped:
        logger.info(
            "market maker %s: placed %d, cancelled %d, kept %d%s",
            symbol,
            len(result.placed),
            len(result.cancelled),
            result.kept,
            f", skipped: {'; '.join(result.skipped[:3])}" if result.skipped else "",
        )


class Command(BaseCommand):
    help = "Quote a ladder of orders around a reference price (demo liquidity)."

    def add_arguments(self, parser):
        add_market_maker_arguments(parser)

    def handle(self, *args, **options):
        # One INFO line per eager matching run drowns everything else.
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        bot, feed = build_market_maker(options)
        self.stdout.write(
            f"Market maker {bot.maker.email} on {', '.join(bot.markets)} "
            f"({feed.name}); Ctrl-C stops."
        )

        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await market_maker_run(
                bot=bot,
                feed=feed,
                stop=stop,
                refresh_seconds=options["refresh"],
                cross_every=options["cross_every"],
                cancel_on_exit=options["cancel_on_exit"],
                on_cycle=log_cycle,
            )

        asyncio.run(main())
        self.stdout.write("Market maker stopped.")
