"""The embedded server's own sweeper (no Celery beat there): a session transition
that falls due while nobody trades is applied, as `trading.sweep` does it in
production."""

import asyncio

import pytest
import time_machine

from calendars.models import InstrumentSession
from calendars.tests.helpers import make_calendar_instrument, utc
from marketdata.management.commands.serve_embedded import sweeper_run

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def _phase(instrument_id: int) -> str:
    session = InstrumentSession.objects.filter(instrument_id=instrument_id).first()
    return session.phase if session else ""


async def test_the_sweeper_opens_the_pre_open_with_nobody_trading():
    from channels.db import database_sync_to_async

    instrument = await database_sync_to_async(make_calendar_instrument)()
    # Tuesday 08:00 in Berlin (07:00 UTC): the pre-open started at 07:30 local
    with time_machine.travel(utc(2026, 12, 8, 7, 0), tick=False):
        stop = asyncio.Event()
        task = asyncio.create_task(sweeper_run(stop=stop, every=0.05))
        for _ in range(200):
            phase = await database_sync_to_async(_phase)(instrument.pk)
            if phase:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
    assert phase == "pre_open"
