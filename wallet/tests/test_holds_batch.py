"""Many new holds in one go (`holds_create_new`, `holds_lock_new` + `NewHolds`):
the rows `hold_create(new_reference=True)` writes for one, for each hold that fits,
judged in order against what the holds before it left."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from config.errors import ApplicationError, http_status
from marketdata.models import UserEvent
from wallet.ledger import HoldRequest, hold_create, holds_create_new, holds_lock_new
from wallet.models import Account, Entry, Hold, Journal
from wallet.tests.helpers import assert_ledger_ok, balances, fund

pytestmark = pytest.mark.django_db


def _shape(hold: Hold) -> list[tuple[str, int, int]]:
    journal = Journal.objects.get(kind="hold", metadata__hold=hold.pk)
    return [
        (entry.account.kind, entry.amount, entry.balance_after)
        for entry in journal.entries.select_related("account").order_by("pk")
    ]


def test_many_holds_write_what_one_at_a_time_writes(alice, bob, usd, btc):
    fund(alice, usd, 10_000)
    fund(alice, btc, 500)
    fund(bob, usd, 10_000)
    fund(bob, btc, 500)
    singles = []
    for number, (asset, amount) in enumerate(
        [(usd, 2_500), (btc, 200), (usd, 1_000)], start=1
    ):
        with transaction.atomic():
            singles.append(
                hold_create(
                    user=alice,
                    asset=asset,
                    amount=amount,
                    reference_kind="order",
                    reference_id=f"a{number}",
                    metadata={"n": number},
                    new_reference=True,
                )
            )
    events_before = UserEvent.objects.filter(user=bob).count()
    with transaction.atomic():
        batch = holds_create_new(
            user=bob,
            requests=[
                HoldRequest(usd, 2_500, "order", "b1", {"n": 1}),
                HoldRequest(btc, 200, "order", "b2", {"n": 2}),
                HoldRequest(usd, 1_000, "order", "b3", {"n": 3}),
            ],
        )
    assert all(isinstance(hold, Hold) and hold.pk for hold in batch)
    for single, many in zip(singles, batch, strict=True):
        assert _shape(many) == _shape(single)
        stored = Hold.objects.get(pk=many.pk)
        assert (stored.amount, stored.remaining_amount, stored.status) == (
            single.amount,
            single.amount,
            "pending",
        )
        assert stored.held_account.kind == "held"
        journal = Journal.objects.get(reference=f"order:{many.reference_id}")
        assert journal.metadata == {"hold": many.pk, "n": int(many.reference_id[1])}
    assert _shape(batch[2]) == [("held", 1_000, 3_500), ("available", -1_000, 6_500)]
    assert (
        balances(bob) == balances(alice) == {"USD": (6_500, 3_500), "BTC": (300, 200)}
    )
    # one balance event per asset, with the balances after the last hold
    events = list(UserEvent.objects.filter(user=bob).order_by("pk")[events_before:])
    assert [event.data for event in events] == [  # by asset id: USD first
        {"asset": "USD", "available": "65.00", "held": "35.00", "total": "100.00"},
        {
            "asset": "BTC",
            "available": "0.00000300",
            "held": "0.00000200",
            "total": "0.00000500",
        },
    ]
    assert_ledger_ok()


def test_each_request_is_judged_on_what_the_ones_before_left(alice, usd):
    fund(alice, usd, 1_000)
    with transaction.atomic():
        results = holds_create_new(
            user=alice,
            requests=[
                HoldRequest(usd, 600, "order", "1"),
                HoldRequest(usd, 500, "order", "2"),  # 400 left: refused
                HoldRequest(usd, 300, "order", "3"),
                HoldRequest(usd, None, "order", "4", minimum=200),  # 100 left
                HoldRequest(usd, None, "order", "5", minimum=50),  # takes the 100
                HoldRequest(usd, 0, "order", "6"),
            ],
        )
    kinds = [
        result.amount if isinstance(result, Hold) else result.code for result in results
    ]
    assert kinds == [
        600,
        "insufficient_funds",
        300,
        "insufficient_funds",
        100,
        "invalid_amount",
    ]
    assert http_status(results[1]) == 422
    assert results[1].message == (
        "amount: insufficient funds, 4.00 USD available but 5.00 needed."
    )
    assert results[1].details == {"amount": [results[1].message], "asset": "USD"}
    assert "1.00 USD available but 2.00 needed" in results[3].message
    assert sorted(Hold.objects.values_list("reference_id", "amount")) == [
        ("1", 600),
        ("3", 300),
        ("5", 100),
    ]
    assert Journal.objects.filter(kind="hold").count() == 3
    assert balances(alice) == {"USD": (0, 1_000)}
    assert_ledger_ok()


def test_the_same_refusal_as_one_hold_alone(alice, usd):
    fund(alice, usd, 1_000)
    with pytest.raises(ApplicationError) as alone:
        with transaction.atomic():
            hold_create(
                user=alice,
                asset=usd,
                amount=1_001,
                reference_kind="order",
                reference_id="x",
                new_reference=True,
            )
    with transaction.atomic():
        (refusal,) = holds_create_new(
            user=alice, requests=[HoldRequest(usd, 1_001, "order", "y")]
        )
    assert (refusal.code, refusal.message, refusal.details, http_status(refusal)) == (
        alone.value.code,
        alone.value.message,
        alone.value.details,
        http_status(alone.value),
    )
    assert not Hold.objects.exists()
    assert not Journal.objects.filter(kind="hold").exists()


def test_accounts_are_made_only_for_a_hold_that_fits(alice, bob, usd, btc):
    fund(alice, usd, 1_000)  # an available account, no held one yet
    with transaction.atomic():
        results = holds_create_new(
            user=alice,
            requests=[
                HoldRequest(btc, 5, "order", "1"),  # no BTC at all
                HoldRequest(usd, 400, "order", "2"),
            ],
        )
    assert results[0].code == "insufficient_funds"
    assert isinstance(results[1], Hold)
    kinds = sorted(
        Account.objects.filter(owner=alice).values_list("asset__code", "kind")
    )
    assert kinds == [("USD", "available"), ("USD", "held")]  # nothing for BTC
    with transaction.atomic():
        (refusal,) = holds_create_new(
            user=bob, requests=[HoldRequest(usd, 1, "order", "3")]
        )
    assert refusal.code == "insufficient_funds"
    assert not Account.objects.filter(owner=bob).exists()
    assert balances(alice) == {"USD": (600, 400)}
    assert_ledger_ok()


def test_references_may_be_named_after_add_and_must_differ(alice, usd):
    fund(alice, usd, 1_000)
    with transaction.atomic():
        holds = holds_lock_new(user=alice, assets=[usd])
        first = holds.add(HoldRequest(usd, 100, "order"))
        second = holds.add(HoldRequest(usd, 200, "order"))
        first.reference_id, second.reference_id = "10", "11"
        holds.write()
    assert Journal.objects.filter(reference__in=["order:10", "order:11"]).count() == 2
    with pytest.raises(ValueError):
        with transaction.atomic():
            holds = holds_lock_new(user=alice, assets=[usd])
            holds.add(HoldRequest(usd, 1, "order", "20"))
            holds.add(HoldRequest(usd, 1, "order", "20"))
            holds.write()
    assert_ledger_ok()


def test_the_statements_do_not_grow_with_the_number_of_holds(alice, bob, usd, btc):
    for user in (alice, bob):
        fund(user, usd, 100_000)
        fund(user, btc, 100_000)
        with transaction.atomic():  # the held accounts exist from here on
            holds_create_new(
                user=user,
                requests=[
                    HoldRequest(usd, 1, "warm", f"{user.pk}-1"),
                    HoldRequest(btc, 1, "warm", f"{user.pk}-2"),
                ],
            )
    counts = []
    for user, count in ((alice, 1), (bob, 40)):
        requests = [
            HoldRequest(usd if n % 2 else btc, 10 + n, "order", f"{user.pk}-{n}")
            for n in range(count)
        ]
        with transaction.atomic():
            with CaptureQueriesContext(connection) as queries:
                holds_create_new(user=user, requests=requests)
        counts.append(len(queries))
    # lock, the rows (one statement on PostgreSQL; the hold, journal and entry
    # inserts and the balance update elsewhere), the balance alerts' read, the
    # balance events
    expected = 4 if connection.vendor == "postgresql" else 7
    assert counts == [expected, expected]
    assert Entry.objects.filter(journal__reference__startswith="order:").count() == 82
    assert_ledger_ok()
