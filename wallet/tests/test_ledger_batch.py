"""Posting batches (issue 24): entries written from the specs in one statement,
each account's balance moved once per batch by the sum of its entries, one
`BalancesChanged` per batch naming each account once with its last balance,
balance alerts judged in one statement per batch, and nothing of the posting
service's checks lost (replays, overdrafts named by asset, all or nothing)."""

from __future__ import annotations

import random
import threading

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.errors import ApplicationError, http_status
from config.tests.recording import recorded
from marketdata.models import UserEvent
from wallet import services
from wallet.events import BalanceBelowMinimum, BalancesChanged
from wallet.ledger import (
    HoldLeg,
    JournalSpec,
    Posting,
    account_ensure,
    hold_create,
    ledger_post_batch,
)
from wallet.models import Account, Entry, Journal
from wallet.tests.helpers import assert_ledger_ok, balances, fund, make_asset
from wallet.verification import ledger_problems


def _avail(user, asset) -> Account:
    return account_ensure(owner=user, asset=asset, kind=Account.Kind.AVAILABLE)


def _fees(asset) -> Account:
    return account_ensure(asset=asset, kind=Account.Kind.FEES)


def _transfer(reference: str, src: Account, dst: Account, units: int) -> JournalSpec:
    return JournalSpec(
        "transfer", reference, [Posting(src, -units), Posting(dst, units)]
    )


def _assert_balances_are_their_entries() -> None:
    """Every account's balance is the sum of its entries, and its entries'
    `balance_after`, in id order, are the running sums."""
    for account in Account.objects.all():
        amounts = list(
            Entry.objects.filter(account=account)
            .order_by("id")
            .values_list("amount", "balance_after")
        )
        running = 0
        for amount, after in amounts:
            running += amount
            assert after == running, account
        assert account.balance == running, account


# --- One event per batch ------------------------------------------------------------


@pytest.mark.django_db
def test_a_batch_touching_accounts_many_times_records_one_event_with_last_balances(
    alice, bob, usd, btc
):
    fund(alice, usd, 10_000)
    fund(bob, btc, 500)
    a_usd, b_usd, a_btc, b_btc = (
        _avail(alice, usd),
        _avail(bob, usd),
        _avail(alice, btc),
        _avail(bob, btc),
    )
    specs = []
    for i in range(20):  # alice's and bob's USD accounts, 40 entries each
        specs.append(_transfer(f"out-{i}", a_usd, b_usd, 100))
        specs.append(_transfer(f"back-{i}", b_usd, a_usd, 40))
    specs.append(  # a fee, in the same batch
        JournalSpec("fee", "fee-1", [Posting(a_usd, -7), Posting(_fees(usd), 7)])
    )
    specs.append(_transfer("btc-1", b_btc, a_btc, 300))
    UserEvent.objects.all().delete()

    with recorded(BalancesChanged) as seen:
        journals = ledger_post_batch(journals=specs)

    assert len(journals) == 42
    assert [j.reference for j in journals[-2:]] == ["fee-1", "btc-1"]
    (event,) = seen  # one event for the whole batch
    moved = [account.pk for account in event.accounts]
    assert moved == sorted({a_usd.pk, b_usd.pk, _fees(usd).pk, a_btc.pk, b_btc.pk})
    last = {account.pk: account.balance for account in event.accounts}
    assert last == {
        a_usd.pk: 10_000 - 20 * 60 - 7,
        b_usd.pk: 20 * 60,
        _fees(usd).pk: 7,
        a_btc.pk: 300,
        b_btc.pk: 200,
    }
    assert last == dict(
        Account.objects.filter(pk__in=moved).values_list("pk", "balance")
    )
    # the stream: one balance event per user and asset, with the last balances
    rows = sorted(
        (row.user_id, row.data["asset"], row.data["available"], row.data["held"])
        for row in UserEvent.objects.filter(type=UserEvent.Type.BALANCE)
    )
    assert rows == sorted(
        [
            (alice.pk, "USD", "87.93", "0.00"),
            (bob.pk, "USD", "12.00", "0.00"),
            (alice.pk, "BTC", "0.00000300", "0.00000000"),
            (bob.pk, "BTC", "0.00000200", "0.00000000"),
        ]
    )
    _assert_balances_are_their_entries()
    assert_ledger_ok()


@pytest.mark.django_db
def test_a_mixed_batch_leaves_every_balance_equal_to_its_entries(alice, bob, usd, btc):
    """Transfers, a fee, a trade settled from two holds, a hold grown and a hold
    released, with accounts touched by several journals: the aggregated balance
    moves equal the entries' sums, and the holds add up."""
    fund(alice, usd, 100_000)
    fund(bob, btc, 1_000)
    buy = hold_create(
        user=alice, asset=usd, amount=60_000, reference_kind="order", reference_id="b"
    )
    sell = hold_create(
        user=bob, asset=btc, amount=800, reference_kind="order", reference_id="s"
    )
    other = hold_create(
        user=alice, asset=usd, amount=5_000, reference_kind="order", reference_id="o"
    )
    specs = [
        _transfer("t-1", _avail(alice, usd), _avail(bob, usd), 1_000),
        JournalSpec(
            "trade",
            "trade-1",
            postings=[
                Posting(_avail(bob, usd), 49_900),
                Posting(_fees(usd), 100),
                Posting(_avail(alice, btc), 498),
                Posting(_fees(btc), 2),
            ],
            hold_legs=[HoldLeg(buy, post=50_000), HoldLeg(sell, post=500)],
        ),
        JournalSpec("hold", "grow-o", hold_legs=[HoldLeg(other, add=2_500)]),
        JournalSpec("release", "release-b", hold_legs=[HoldLeg(buy, release=10_000)]),
        _transfer("t-2", _avail(bob, usd), _avail(alice, usd), 30_000),
        _transfer("t-3", _avail(alice, btc), _avail(bob, btc), 98),
    ]

    ledger_post_batch(journals=specs)

    # alice's USD: 100,000 - 65,000 held - 1,000 - 2,500 more held + 10,000
    # released + 30,000; bob's BTC: 1,000 - 800 held + 98
    assert balances(alice) == {"USD": (71_500, 7_500), "BTC": (400, 0)}
    assert balances(bob) == {"USD": (20_900, 0), "BTC": (298, 300)}
    assert (_fees(usd).balance, _fees(btc).balance) == (100, 2)
    buy.refresh_from_db()
    other.refresh_from_db()
    sell.refresh_from_db()
    assert (buy.status, buy.posted_amount, buy.released_amount) == (
        "voided",
        50_000,
        10_000,
    )
    assert (other.amount, other.remaining_amount, other.status) == (
        7_500,
        7_500,
        "pending",
    )
    assert (sell.remaining_amount, sell.status) == (300, "pending")
    assert Entry.objects.filter(journal__reference="trade-1").count() == 6
    _assert_balances_are_their_entries()
    assert_ledger_ok()


# --- What a batch keeps of the posting service's checks -------------------------


@pytest.mark.django_db
def test_a_batch_replays_its_posted_references_and_posts_the_rest(alice, bob, usd):
    fund(alice, usd, 1_000)
    a, b = _avail(alice, usd), _avail(bob, usd)
    first = ledger_post_batch(
        journals=[_transfer(f"r-{i}", a, b, 10) for i in range(3)]
    )
    again = ledger_post_batch(
        journals=[_transfer(f"r-{i}", a, b, 10) for i in range(1, 5)]
    )
    assert [j.pk for j in again[:2]] == [first[1].pk, first[2].pk]
    assert [j.reference for j in again] == ["r-1", "r-2", "r-3", "r-4"]
    assert len({j.pk for j in again}) == 4
    assert balances(alice) == {"USD": (950, 0)}  # 5 transfers, not 7

    journals = Journal.objects.count()
    with pytest.raises(ApplicationError) as info:
        ledger_post_batch(
            journals=[_transfer("r-5", a, b, 10), _transfer("r-4", a, b, 11)]
        )
    assert (info.value.code, http_status(info.value)) == (
        "journal_reference_conflict",
        409,
    )
    assert Journal.objects.count() == journals  # r-5 rolled back with it
    assert balances(alice) == {"USD": (950, 0)}
    _assert_balances_are_their_entries()


@pytest.mark.django_db
def test_an_overdraft_inside_a_batch_refuses_it_all_naming_the_asset(
    alice, bob, usd, btc
):
    """Each journal is judged on the balances the ones before it left: a later
    journal that would refill the account does not excuse an earlier one."""
    fund(alice, usd, 1_000)
    fund(bob, btc, 100)
    specs = [
        _transfer("ok", _avail(alice, usd), _avail(bob, usd), 500),
        _transfer("short", _avail(alice, btc), _avail(bob, btc), 50),
        _transfer("refill", _avail(bob, btc), _avail(alice, btc), 100),
    ]
    with pytest.raises(ApplicationError) as info:
        ledger_post_batch(journals=specs)
    assert (info.value.code, http_status(info.value)) == ("insufficient_funds", 422)
    assert info.value.details["asset"] == "BTC"
    assert "0.00000000 BTC available but 0.00000050 needed" in info.value.message
    assert balances(alice) == {"USD": (1_000, 0)}
    assert not Journal.objects.filter(kind="transfer").exists()
    assert_ledger_ok()


@pytest.mark.django_db
def test_a_batch_past_the_64_bit_limit_is_refused_whole(alice, usd):
    external = account_ensure(asset=usd, kind=Account.Kind.EXTERNAL)
    specs = [
        JournalSpec(
            "deposit",
            f"big-{i}",
            [Posting(external, -(2**62)), Posting(_avail(alice, usd), 2**62)],
        )
        for i in range(2)
    ]
    with pytest.raises(ApplicationError) as info:
        ledger_post_batch(journals=specs)
    assert info.value.code == "balance_overflow"
    assert balances(alice) == {}


# --- Statements per batch -----------------------------------------------------------


def _statements(queries, table: str) -> int:
    return sum(table in query["sql"] for query in queries)


@pytest.mark.django_db
@pytest.mark.kyc_verified
def test_the_statements_of_a_batch_do_not_grow_with_its_size(alice, bob, usd):
    fund(alice, usd, 100_000)
    services.balance_alert_set(user=alice, asset=usd, minimum=10)
    services.balance_alert_set(user=bob, asset=usd, minimum=10)
    a, b = _avail(alice, usd), _avail(bob, usd)
    counts = []
    for size in (2, 60):
        specs = [
            _transfer(f"s{size}-{i}", *((a, b) if i % 2 else (b, a)), 1 + i % 2)
            for i in range(size)
        ]
        specs[0] = _transfer(f"s{size}-0", a, b, 1)
        with CaptureQueriesContext(connection) as queries:
            ledger_post_batch(journals=specs)
        counts.append(
            (
                len(queries),
                _statements(queries, "wallet_entry"),
                _statements(queries, "wallet_balancealert"),
            )
        )
    assert counts[0] == counts[1]
    assert counts[1][1:] == (1, 1)  # one entries statement, one alerts statement
    _assert_balances_are_their_entries()


@pytest.mark.django_db
@pytest.mark.kyc_verified
def test_alerts_are_judged_once_per_batch_on_the_balances_it_left(alice, bob, usd):
    fund(alice, usd, 2_000)
    services.balance_alert_set(user=alice, asset=usd, minimum=1_000)
    a, b = _avail(alice, usd), _avail(bob, usd)

    with recorded(BalanceBelowMinimum) as seen:
        # dips to 500 and comes back inside one batch: no crossing
        ledger_post_batch(
            journals=[_transfer("dip", a, b, 1_500), _transfer("back", b, a, 1_500)]
        )
        assert seen == []
        # two steps below in one batch: one crossing, with the last balance
        ledger_post_batch(
            journals=[_transfer("down-1", a, b, 600), _transfer("down-2", a, b, 600)]
        )
    assert seen == [
        BalanceBelowMinimum(user_id=alice.pk, asset="USD", minimum=1_000, available=800)
    ]


# --- Racing batches on PostgreSQL -------------------------------------------------


def _run_threads(target, count: int) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def runner(number: int) -> None:
        try:
            barrier.wait()
            target(number)
        except BaseException as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_batches_conserve_money_and_pass_verify_ledger():
    from accounts.testing import make_user

    usd = make_asset("USD", 2)
    users = [make_user(email=f"race{i}@example.com") for i in range(6)]
    accounts = [_avail(user, usd) for user in users]
    for user in users:
        fund(user, usd, 5_000)
    refused: list[str] = []

    def work(number: int) -> None:
        rng = random.Random(number)
        for batch in range(6):
            specs = []
            for i in range(40):
                src, dst = rng.sample(accounts, 2)
                specs.append(
                    _transfer(
                        f"race-{number}-{batch}-{i}", src, dst, rng.randint(1, 400)
                    )
                )
            try:
                ledger_post_batch(journals=specs)
            except ApplicationError as exc:
                refused.append(exc.code)

    errors = _run_threads(work, 4)

    assert errors == []
    assert set(refused) <= {"insufficient_funds"}
    posted = Journal.objects.filter(kind="transfer").count()
    assert posted == 40 * (24 - len(refused))
    after = Account.objects.filter(pk__in=[account.pk for account in accounts])
    assert sum(account.balance for account in after) == 30_000
    _assert_balances_are_their_entries()
    assert ledger_problems() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_batch_posted_by_racing_threads_is_posted_once():
    from accounts.testing import make_user

    usd = make_asset("USD", 2)
    alice, bob = make_user(email="ra@example.com"), make_user(email="rb@example.com")
    fund(alice, usd, 1_000)
    specs = [
        _transfer(f"twin-{i}", _avail(alice, usd), _avail(bob, usd), 10)
        for i in range(30)
    ]
    ids: list[list[int]] = []

    def work(_number: int) -> None:
        ids.append([journal.pk for journal in ledger_post_batch(journals=specs)])

    errors = _run_threads(work, 3)

    assert errors == []
    assert ids[0] == ids[1] == ids[2]
    assert balances(alice) == {"USD": (700, 0)}
    assert Journal.objects.filter(reference__startswith="twin-").count() == 30
    _assert_balances_are_their_entries()
    assert ledger_problems() == []
