"""The posting service and holds: the API trading builds on."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from config.errors import ApplicationError, http_status
from wallet.ledger import (
    HoldLeg,
    JournalSpec,
    Posting,
    account_ensure,
    hold_adjust,
    hold_create,
    hold_post,
    hold_void,
    ledger_post,
    ledger_post_batch,
)
from wallet.models import Account, Entry, Hold, Journal
from wallet.tests.helpers import assert_ledger_ok, balances, fund
from wallet.verification import CHECKS, ledger_problems, register_check

pytestmark = pytest.mark.django_db


def _avail(user, asset):
    return account_ensure(owner=user, asset=asset, kind=Account.Kind.AVAILABLE)


def _fees(asset):
    return account_ensure(asset=asset, kind=Account.Kind.FEES)


def test_post_moves_balances_and_records_balance_after(alice, bob, usd):
    fund(alice, usd, 10_000)
    journal = ledger_post(
        kind="transfer",
        reference="t-1",
        postings=[
            Posting(_avail(alice, usd), -2_500),
            Posting(_avail(bob, usd), 2_500),
        ],
        metadata={"note": "rent"},
    )
    assert balances(alice) == {"USD": (7_500, 0)}
    assert balances(bob) == {"USD": (2_500, 0)}
    rows = list(journal.entries.order_by("id").values_list("amount", "balance_after"))
    assert rows == [(-2_500, 7_500), (2_500, 2_500)]
    assert journal.metadata == {"note": "rent"}
    assert_ledger_ok()


def test_repeated_reference_returns_the_first_journal(alice, bob, usd):
    fund(alice, usd, 10_000)
    postings = [Posting(_avail(alice, usd), -100), Posting(_avail(bob, usd), 100)]
    first = ledger_post(kind="transfer", reference="same", postings=postings)
    again = ledger_post(kind="transfer", reference="same", postings=postings)
    assert again.pk == first.pk
    assert balances(bob) == {"USD": (100, 0)}
    assert Entry.objects.filter(journal=first).count() == 2


def test_repeated_reference_with_other_entries_is_a_conflict(alice, bob, usd):
    fund(alice, usd, 10_000)
    ledger_post(
        kind="transfer",
        reference="same",
        postings=[Posting(_avail(alice, usd), -100), Posting(_avail(bob, usd), 100)],
    )
    with pytest.raises(ApplicationError) as info:
        ledger_post(
            kind="transfer",
            reference="same",
            postings=[
                Posting(_avail(alice, usd), -200),
                Posting(_avail(bob, usd), 200),
            ],
        )
    assert info.value.code == "journal_reference_conflict"
    assert http_status(info.value) == 409


def test_unbalanced_journal_is_refused_before_any_write(alice, bob, usd, btc):
    fund(alice, usd, 10_000)
    fund(alice, btc, 10_000)
    with pytest.raises(ApplicationError) as info:
        ledger_post(
            kind="transfer",
            reference="bad",
            postings=[
                Posting(_avail(alice, usd), -100),
                Posting(_avail(bob, btc), 100),
            ],
        )
    assert info.value.code == "unbalanced_journal"
    assert not Journal.objects.filter(reference="bad").exists()


def test_overdraft_is_insufficient_funds_and_writes_nothing(alice, bob, usd):
    fund(alice, usd, 1_000)
    with pytest.raises(ApplicationError) as info:
        ledger_post(
            kind="transfer",
            reference="over",
            postings=[
                Posting(_avail(alice, usd), -1_001),
                Posting(_avail(bob, usd), 1_001),
            ],
        )
    assert info.value.code == "insufficient_funds"
    assert http_status(info.value) == 422
    assert info.value.message == (
        "amount: insufficient funds, 10.00 USD available but 10.01 needed."
    )
    assert not Journal.objects.filter(reference="over").exists()
    assert balances(alice) == {"USD": (1_000, 0)}


def test_database_refuses_a_negative_user_balance(alice, usd):
    account = _avail(alice, usd)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(balance=-1)


def test_database_refuses_zero_entries(alice, usd):
    journal = fund(alice, usd, 5)
    with pytest.raises(IntegrityError), transaction.atomic():
        Entry.objects.create(
            journal=journal, account=_avail(alice, usd), amount=0, balance_after=5
        )


def test_database_refuses_a_second_journal_with_the_same_reference(usd):
    Journal.objects.create(kind="deposit", reference="x")
    Journal.objects.create(kind="transfer", reference="x")  # other kind: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        Journal.objects.create(kind="deposit", reference="x")


def test_hold_create_post_in_parts_then_posted(alice, bob, usd):
    fund(alice, usd, 10_000)
    hold = hold_create(
        user=alice, asset=usd, amount=3_000, reference_kind="order", reference_id="7"
    )
    assert balances(alice) == {"USD": (7_000, 3_000)}
    assert (hold.amount, hold.remaining_amount, hold.status) == (
        3_000,
        3_000,
        "pending",
    )

    hold_post(
        hold=hold,
        amount=1_000,
        postings=[Posting(_avail(bob, usd), 990), Posting(_fees(usd), 10)],
        kind="trade",
        reference="trade-1",
    )
    assert (hold.remaining_amount, hold.posted_amount, hold.status) == (
        2_000,
        1_000,
        "pending",
    )
    hold_post(
        hold=hold,
        amount=2_000,
        postings=[Posting(_avail(bob, usd), 2_000)],
        kind="trade",
        reference="trade-2",
    )
    hold.refresh_from_db()
    assert (hold.remaining_amount, hold.posted_amount, hold.status) == (
        0,
        3_000,
        "posted",
    )
    assert balances(alice) == {"USD": (7_000, 0)}
    assert balances(bob) == {"USD": (2_990, 0)}
    assert _fees(usd).balance == 10
    assert_ledger_ok()


def test_hold_cannot_post_more_than_remains(alice, bob, usd):
    fund(alice, usd, 10_000)
    hold = hold_create(
        user=alice, asset=usd, amount=500, reference_kind="order", reference_id="1"
    )
    with pytest.raises(ApplicationError) as info:
        hold_post(
            hold=hold,
            amount=501,
            postings=[Posting(_avail(bob, usd), 501)],
            kind="trade",
            reference="t",
        )
    assert info.value.code == "hold_amount_exceeded"
    assert balances(alice) == {"USD": (9_500, 500)}


def test_hold_void_releases_the_rest_once(alice, bob, usd):
    fund(alice, usd, 10_000)
    hold = hold_create(
        user=alice, asset=usd, amount=1_000, reference_kind="order", reference_id="1"
    )
    hold_post(
        hold=hold,
        amount=400,
        postings=[Posting(_avail(bob, usd), 400)],
        kind="trade",
        reference="t-1",
    )
    journal = hold_void(hold=hold)
    assert (hold.status, hold.released_amount, hold.remaining_amount) == (
        "voided",
        600,
        0,
    )
    assert balances(alice) == {"USD": (9_600, 0)}
    # The same void again is a replay; a different one is refused.
    assert hold_void(hold=hold).pk == journal.pk
    with pytest.raises(ApplicationError) as info:
        hold_void(hold=hold, reference="order:1:again")
    assert info.value.code == "hold_not_pending"
    with pytest.raises(ApplicationError) as info:
        hold_post(
            hold=hold,
            amount=1,
            postings=[Posting(_avail(bob, usd), 1)],
            kind="trade",
            reference="t-2",
        )
    assert info.value.code == "hold_not_pending"
    assert_ledger_ok()


def test_hold_create_needs_available_funds_and_is_idempotent(alice, bob, usd):
    fund(alice, usd, 100)
    with pytest.raises(ApplicationError) as info:
        hold_create(
            user=alice, asset=usd, amount=101, reference_kind="order", reference_id="1"
        )
    assert info.value.code == "insufficient_funds"
    assert not Hold.objects.exists()
    first = hold_create(
        user=alice, asset=usd, amount=100, reference_kind="order", reference_id="1"
    )
    again = hold_create(
        user=alice, asset=usd, amount=100, reference_kind="order", reference_id="1"
    )
    assert again.pk == first.pk
    assert balances(alice) == {"USD": (0, 100)}
    with pytest.raises(ApplicationError) as info:
        hold_create(
            user=bob, asset=usd, amount=1, reference_kind="order", reference_id="1"
        )
    assert info.value.code == "hold_reference_conflict"


def test_hold_adjust_up_and_down(alice, usd):
    fund(alice, usd, 1_000)
    hold = hold_create(
        user=alice, asset=usd, amount=300, reference_kind="order", reference_id="1"
    )
    hold_adjust(hold=hold, delta=200, reference="order:1:amend:1")
    assert (hold.amount, hold.remaining_amount) == (500, 500)
    assert balances(alice) == {"USD": (500, 500)}
    hold_adjust(hold=hold, delta=-450, reference="order:1:amend:2")
    assert (hold.remaining_amount, hold.released_amount) == (50, 450)
    assert balances(alice) == {"USD": (950, 50)}
    # replay is a no-op
    hold_adjust(hold=hold, delta=-450, reference="order:1:amend:2")
    assert balances(alice) == {"USD": (950, 50)}
    with pytest.raises(ApplicationError) as info:
        hold_adjust(hold=hold, delta=-50, reference="order:1:amend:3")
    assert info.value.code == "hold_amount_exceeded"
    with pytest.raises(ApplicationError) as info:
        hold_adjust(hold=hold, delta=951, reference="order:1:amend:4")
    assert info.value.code == "insufficient_funds"
    assert_ledger_ok()


def test_trade_settles_two_holds_in_one_journal(alice, bob, usd, btc):
    """Alice buys 0.5 BTC from Bob at 20,000 USD; 0.1% fee each side."""
    fund(alice, usd, 2_000_000)  # 20,000.00 USD
    fund(bob, btc, 100_000_000)  # 1 BTC
    buy = hold_create(
        user=alice,
        asset=usd,
        amount=1_000_000,
        reference_kind="order",
        reference_id="b",
    )
    sell = hold_create(
        user=bob, asset=btc, amount=50_000_000, reference_kind="order", reference_id="s"
    )
    quote, base = 1_000_000, 50_000_000
    quote_fee, base_fee = 1_000, 50_000
    journal = ledger_post(
        kind="trade",
        reference="trade-42",
        hold_legs=[HoldLeg(buy, post=quote), HoldLeg(sell, post=base)],
        postings=[
            Posting(_avail(bob, usd), quote - quote_fee),
            Posting(_fees(usd), quote_fee),
            Posting(_avail(alice, btc), base - base_fee),
            Posting(_fees(btc), base_fee),
        ],
    )
    assert journal.entries.count() == 6
    assert (buy.status, sell.status) == ("posted", "posted")
    assert balances(alice) == {"USD": (1_000_000, 0), "BTC": (49_950_000, 0)}
    assert balances(bob) == {"USD": (999_000, 0), "BTC": (50_000_000, 0)}
    assert (_fees(usd).balance, _fees(btc).balance) == (1_000, 50_000)
    assert_ledger_ok()


def test_batch_posts_many_journals_and_replays(alice, bob, usd):
    fund(alice, usd, 1_000)
    a, b = _avail(alice, usd), _avail(bob, usd)
    specs = [
        JournalSpec("transfer", f"batch-{i}", [Posting(a, -10), Posting(b, 10)])
        for i in range(5)
    ]
    journals = ledger_post_batch(journals=specs)
    assert [j.reference for j in journals] == [f"batch-{i}" for i in range(5)]
    assert balances(alice) == {"USD": (950, 0)}
    afters = list(
        Entry.objects.filter(account=a)
        .order_by("id")
        .values_list("balance_after", flat=True)
    )
    assert afters == [1_000, 990, 980, 970, 960, 950]
    again = ledger_post_batch(journals=specs)
    assert [j.pk for j in again] == [j.pk for j in journals]
    assert balances(alice) == {"USD": (950, 0)}
    assert_ledger_ok()


def test_a_fresh_batch_skips_the_replay_lookup_and_refuses_a_reposted_reference(
    alice, bob, usd
):
    """fresh=True (the matcher) posts the same rows without looking for replays
    or taking savepoints; a reference that exists after all fails the caller's
    whole transaction instead of posting twice."""
    from django.db import IntegrityError, connection, transaction
    from django.test.utils import CaptureQueriesContext

    fund(alice, usd, 1_000)
    a, b = _avail(alice, usd), _avail(bob, usd)
    specs = [
        JournalSpec("transfer", f"fresh-{i}", [Posting(a, -10), Posting(b, 10)])
        for i in range(3)
    ]
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        journals = ledger_post_batch(journals=specs, fresh=True)
    assert [j.reference for j in journals] == ["fresh-0", "fresh-1", "fresh-2"]
    assert all(j.pk for j in journals)
    assert balances(alice) == {"USD": (970, 0)}
    sql = [q["sql"] for q in queries]
    assert not any("SAVEPOINT" in q for q in sql)
    assert not any("FROM wallet_journal" in q for q in sql)  # no replay lookup
    with pytest.raises(IntegrityError), transaction.atomic():
        ledger_post_batch(journals=specs[:1], fresh=True)
    assert balances(alice) == {"USD": (970, 0)}
    assert Journal.objects.filter(reference__startswith="fresh-").count() == 3
    assert_ledger_ok()


def test_batch_is_all_or_nothing(alice, bob, usd):
    fund(alice, usd, 15)
    a, b = _avail(alice, usd), _avail(bob, usd)
    specs = [
        JournalSpec("transfer", f"b-{i}", [Posting(a, -10), Posting(b, 10)])
        for i in range(2)
    ]
    with pytest.raises(ApplicationError) as info:
        ledger_post_batch(journals=specs)
    assert info.value.code == "insufficient_funds"
    assert balances(alice) == {"USD": (15, 0)}
    assert not Journal.objects.filter(kind="transfer").exists()


def test_external_may_go_negative_but_nothing_else(alice, usd):
    fund(alice, usd, 50)
    assert account_ensure(asset=usd, kind=Account.Kind.EXTERNAL).balance == -50
    with pytest.raises(ApplicationError) as info:
        ledger_post(
            kind="fee",
            reference="f",
            postings=[Posting(_fees(usd), -1), Posting(_avail(alice, usd), 1)],
        )
    assert info.value.code == "insufficient_funds"


def test_verify_ledger_names_each_broken_invariant(alice, bob, usd):
    fund(alice, usd, 1_000)
    hold_create(
        user=alice, asset=usd, amount=100, reference_kind="order", reference_id="1"
    )
    call_command("verify_ledger")  # all good
    available = _avail(alice, usd)
    held = account_ensure(owner=alice, asset=usd, kind=Account.Kind.HELD)
    # Corrupt the ledger behind the posting service's back.
    Account.objects.filter(pk=available.pk).update(balance=950)
    Account.objects.filter(pk=held.pk).update(balance=150)
    Journal.objects.create(kind="fee", reference="empty")
    problems = ledger_problems()
    assert problems == [
        "balances equal the sum of their entries: "
        f"account {available.pk} (user {alice.pk} USD available): balance 950 != "
        "sum of entries 900",
        "balances equal the sum of their entries: "
        f"account {held.pk} (user {alice.pk} USD held): balance 150 != sum of "
        "entries 100",
        "last entry's balance_after equals the balance: "
        f"account {available.pk} (user {alice.pk} USD available): balance 950 != "
        "last entry's balance_after 900",
        "last entry's balance_after equals the balance: "
        f"account {held.pk} (user {alice.pk} USD held): balance 150 != last "
        "entry's balance_after 100",
        "each asset sums to zero over all accounts: asset USD: balances sum to "
        "100, not 0",
        f"each journal sums to zero per asset: journal "
        f"{Journal.objects.get(reference='empty').pk} (fee:empty): has no entries",
        "held balances equal pending holds: "
        f"account {held.pk} (user {alice.pk} USD held): held balance 150 != "
        "pending holds 100",
    ]
    with pytest.raises(CommandError, match="7 problem"):
        call_command("verify_ledger")


def test_other_apps_can_register_checks(usd):
    register_check(
        "trading: open orders hold what they need", lambda: ["order 9: short"]
    )
    try:
        assert ledger_problems() == [
            "trading: open orders hold what they need: order 9: short"
        ]
    finally:
        CHECKS.pop("trading: open orders hold what they need")


def test_balances_past_64_bits_are_refused(alice, usd):
    from wallet.money import MAX_UNITS

    fund(alice, usd, MAX_UNITS)
    with pytest.raises(ApplicationError) as info:
        fund(alice, usd, 1)
    assert info.value.code == "balance_overflow"
    assert balances(alice) == {"USD": (MAX_UNITS, 0)}


def _hold_journal_shape(hold: Hold) -> list[tuple[str, int, int]]:
    journal = Journal.objects.get(
        kind=Journal.Kind.HOLD, reference=f"order:{hold.reference_id}"
    )
    assert journal.metadata["hold"] == hold.pk
    return sorted(
        (entry.account.kind, entry.amount, entry.balance_after)
        for entry in journal.entries.select_related("account")
    )


def test_hold_for_a_new_reference_writes_what_the_general_path_writes(alice, bob, usd):
    from marketdata.models import UserEvent

    fund(alice, usd, 10_000)
    fund(bob, usd, 10_000)
    general = hold_create(
        user=alice, asset=usd, amount=2_500, reference_kind="order", reference_id="1"
    )
    with transaction.atomic():
        fast = hold_create(
            user=bob,
            asset=usd,
            amount=2_500,
            reference_kind="order",
            reference_id="2",
            new_reference=True,
        )
    for hold in (general, fast):  # entries in the same order: held leg first
        journal = Journal.objects.get(metadata__hold=hold.pk)
        kinds = [entry.account.kind for entry in journal.entries.order_by("pk")]
        assert kinds == ["held", "available"]
    assert (
        _hold_journal_shape(fast)
        == _hold_journal_shape(general)
        == [
            ("available", -2_500, 7_500),
            ("held", 2_500, 2_500),
        ]
    )
    fast.refresh_from_db()
    assert (fast.amount, fast.remaining_amount, fast.status) == (
        2_500,
        2_500,
        "pending",
    )
    assert balances(bob) == balances(alice) == {"USD": (7_500, 2_500)}
    event = UserEvent.objects.filter(user=bob, type="balance").latest("pk")
    assert event.data == {
        "asset": "USD",
        "available": "75.00",
        "held": "25.00",
        "total": "100.00",
    }
    assert_ledger_ok()


def test_hold_for_a_new_reference_refuses_an_overdraft_writing_nothing(alice, usd):
    fund(alice, usd, 1_000)
    with pytest.raises(ApplicationError) as refused:
        with transaction.atomic():
            hold_create(
                user=alice,
                asset=usd,
                amount=1_001,
                reference_kind="order",
                reference_id="9",
                new_reference=True,
            )
    assert refused.value.code == "insufficient_funds"
    assert "10.00 USD available but 10.01 needed" in refused.value.message
    assert not Hold.objects.exists()
    assert balances(alice) == {"USD": (1_000, 0)}
    assert_ledger_ok()


# --- the database's CHECKs, told apart by name ---------------------------------------


def test_a_negative_balance_refused_by_the_database_is_insufficient_funds(
    alice, bob, usd, monkeypatch
):
    """A balance read stale past the service's own check still cannot go below
    zero: the non-negative CHECK refuses it, and that refusal (alone) means
    insufficient funds; nothing is written."""
    from wallet import ledger

    fund(alice, usd, 1_000)
    a, b = _avail(alice, usd), _avail(bob, usd)
    locked = ledger.accounts_lock

    def stale(account_ids):
        accounts = locked(account_ids)
        accounts[a.pk].balance += 5_000  # as if read before a concurrent debit
        return accounts

    monkeypatch.setattr(ledger, "accounts_lock", stale)
    with pytest.raises(ApplicationError) as refused:
        ledger_post(
            kind="transfer",
            reference="stale-1",
            postings=[Posting(a, -3_000), Posting(b, 3_000)],
        )
    assert (refused.value.code, http_status(refused.value)) == (
        "insufficient_funds",
        422,
    )
    assert isinstance(refused.value.__cause__, IntegrityError)
    assert balances(alice) == {"USD": (1_000, 0)}
    assert not Journal.objects.filter(reference="stale-1").exists()
    assert_ledger_ok()


def test_a_broken_hold_sum_is_a_bug_never_insufficient_funds(
    alice, bob, usd, monkeypatch
):
    """A hold written with amounts that do not add up (here: a remaining amount
    one unit off, as a bug in the posting's arithmetic would leave it) violates
    `hold_amounts_add_up`: the IntegrityError propagates as it is, never mapped
    to a client error."""
    from wallet import queries

    fund(alice, usd, 1_000)
    hold = hold_create(
        user=alice, asset=usd, amount=400, reference_kind="order", reference_id="s"
    )
    write = queries.postings_write

    def miscounted(*, holds, **rest):
        for locked in holds:
            locked.remaining_amount += 1
        write(holds=holds, **rest)

    monkeypatch.setattr(queries, "postings_write", miscounted)
    with pytest.raises(IntegrityError) as broken:
        hold_post(
            hold=hold,
            amount=100,
            postings=[Posting(_avail(bob, usd), 100)],
            kind="transfer",
            reference="broken-sum",
        )
    assert not isinstance(broken.value, ApplicationError)
    assert "hold_amounts_add_up" in str(broken.value)
    hold.refresh_from_db()
    assert (hold.amount, hold.remaining_amount) == (400, 400)
    assert balances(alice) == {"USD": (600, 400)}
    assert_ledger_ok()
