"""Domain events: in-transaction subscribers run with the cause and roll back
with it; on-commit subscribers run only after the outermost commit."""

from dataclasses import dataclass

import pytest
from django.db import transaction

from config import events
from wallet.models import Asset

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True)
class Happened:
    code: str


@pytest.fixture
def seen():
    log: list[tuple[str, str]] = []

    def during(event: Happened) -> None:
        Asset.objects.create(code=event.code, name=event.code, decimals=2, kind="fiat")
        log.append(("during", event.code))

    def after(event: Happened) -> None:
        log.append(("after", event.code))

    events.subscribe(Happened, during, moment=events.IN_TRANSACTION)
    events.subscribe(Happened, after, moment=events.ON_COMMIT)
    yield log
    events.unsubscribe(Happened, during, moment=events.IN_TRANSACTION)
    events.unsubscribe(Happened, after, moment=events.ON_COMMIT)


def test_in_transaction_now_on_commit_after_the_outermost_commit(seen):
    with transaction.atomic():
        with transaction.atomic():
            events.record(Happened("EVA"))
        assert seen == [("during", "EVA")]
    assert seen == [("during", "EVA"), ("after", "EVA")]
    assert Asset.objects.filter(code="EVA").exists()


def test_a_rollback_undoes_the_in_transaction_work_and_skips_the_rest(seen):
    with pytest.raises(RuntimeError), transaction.atomic():
        events.record(Happened("EVB"))
        raise RuntimeError("the cause failed")
    assert seen == [("during", "EVB")]
    assert not Asset.objects.filter(code="EVB").exists()


def test_subscribing_twice_calls_once_and_unknown_events_are_ignored(seen):
    def during(event):  # a second, distinct handler registered twice
        seen.append(("twice", event.code))

    events.subscribe(Happened, during, moment=events.IN_TRANSACTION)
    events.subscribe(Happened, during, moment=events.IN_TRANSACTION)
    try:
        events.record(Happened("EVC"))
        events.record(object())  # nobody listens: nothing happens
    finally:
        events.unsubscribe(Happened, during, moment=events.IN_TRANSACTION)
    assert seen == [("during", "EVC"), ("twice", "EVC"), ("after", "EVC")]


def test_the_ledger_balance_event_is_wired_in_one_place():
    from marketdata.services import balance_events_record
    from wallet.events import BalancesChanged
    from wallet.services.alerts import balance_alerts_check

    # the stream's balance events, then the balance alerts' crossings
    assert events.subscribers(BalancesChanged, events.IN_TRANSACTION) == (
        balance_events_record,
        balance_alerts_check,
    )


def test_a_failing_on_commit_subscriber_is_logged_and_the_others_still_run(
    seen, caplog
):
    def broken(event: Happened) -> None:
        raise RuntimeError("the layer is down")

    events.subscribe(Happened, broken, moment=events.ON_COMMIT)
    try:
        with transaction.atomic():
            events.record(Happened("EVD"))
            transaction.on_commit(lambda: seen.append(("next", "EVD")))
    finally:
        events.unsubscribe(Happened, broken, moment=events.ON_COMMIT)
    assert seen == [("during", "EVD"), ("after", "EVD"), ("next", "EVD")]
    assert "the layer is down" in caplog.text
