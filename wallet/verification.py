"""Prove the ledger's invariants (`manage.py verify_ledger`).

Each check returns a list of human-readable problems; an empty list means it holds.
Other apps add their own checks with `register_check` (trading: "every open order's
remaining hold matches what it still needs"), typically from `AppConfig.ready()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from wallet.models import Account, Entry, Hold, Journal

Check = Callable[[], list[str]]


@dataclass(frozen=True)
class CheckResult:
    name: str
    problems: list[str]


def _sum_entries(**filters):
    return Coalesce(
        Subquery(
            Entry.objects.filter(account=OuterRef("pk"), **filters)
            .order_by()
            .values("account")
            .annotate(total=Sum("amount"))
            .values("total")[:1]
        ),
        Value(0),
    )


def _account_label(account: Account) -> str:
    owner = f"user {account.owner_id}" if account.owner_id else "system"
    return f"account {account.pk} ({owner} {account.asset.code} {account.kind})"


def check_balances_match_entries() -> list[str]:
    rows = (
        Account.objects.select_related("asset")
        .annotate(entries_total=_sum_entries())
        .exclude(balance=F("entries_total"))
    )
    return [
        f"{_account_label(a)}: balance {a.balance} != sum of entries {a.entries_total}"
        for a in rows
    ]


def check_last_balance_after() -> list[str]:
    last = Subquery(
        Entry.objects.filter(account=OuterRef("pk"))
        .order_by("-id")
        .values("balance_after")[:1]
    )
    rows = (
        Account.objects.select_related("asset")
        .annotate(last_after=Coalesce(last, Value(0)))
        .exclude(balance=F("last_after"))
    )
    return [
        f"{_account_label(a)}: balance {a.balance} != last entry's balance_after "
        f"{a.last_after}"
        for a in rows
    ]


def check_assets_sum_to_zero() -> list[str]:
    problems = []
    rows = (
        Account.objects.values("asset__code")
        .annotate(total=Sum("balance"))
        .exclude(total=0)
        .order_by("asset__code")
    )
    for row in rows:
        problems.append(
            f"asset {row['asset__code']}: balances sum to {row['total']}, not 0"
        )
    return problems


def check_no_negative_balances() -> list[str]:
    rows = (
        Account.objects.select_related("asset")
        .exclude(kind__in=[Account.Kind.EXTERNAL, Account.Kind.RECEIVABLE])
        .filter(balance__lt=0)
    )
    owed = Account.objects.select_related("asset").filter(
        kind=Account.Kind.RECEIVABLE, balance__gt=0
    )
    return [f"{_account_label(a)}: negative balance {a.balance}" for a in rows] + [
        f"{_account_label(a)}: a receivable above zero ({a.balance})" for a in owed
    ]


def check_journals_balanced() -> list[str]:
    problems = []
    rows = (
        Entry.objects.values("journal_id", "journal__kind", "journal__reference")
        .annotate(asset=F("account__asset__code"), total=Sum("amount"))
        .exclude(total=0)
        .order_by("journal_id")
    )
    for row in rows:
        problems.append(
            f"journal {row['journal_id']} ({row['journal__kind']}:"
            f"{row['journal__reference']}): {row['asset']} entries sum to "
            f"{row['total']}, not 0"
        )
    empty = Journal.objects.annotate(n=Count("entries")).filter(n=0)
    problems += [
        f"journal {j.pk} ({j.kind}:{j.reference}): has no entries" for j in empty
    ]
    return problems


def check_held_matches_holds() -> list[str]:
    pending = Coalesce(
        Subquery(
            Hold.objects.filter(held_account=OuterRef("pk"), status=Hold.Status.PENDING)
            .order_by()
            .values("held_account")
            .annotate(total=Sum("remaining_amount"))
            .values("total")[:1]
        ),
        Value(0),
    )
    rows = (
        Account.objects.select_related("asset")
        .filter(kind=Account.Kind.HELD)
        .annotate(pending=pending)
        .exclude(balance=F("pending"))
    )
    problems = [
        f"{_account_label(a)}: held balance {a.balance} != pending holds {a.pending}"
        for a in rows
    ]
    closed = Hold.objects.exclude(status=Hold.Status.PENDING).exclude(
        remaining_amount=0
    )
    problems += [
        f"hold {h.pk} ({h.reference_kind}:{h.reference_id}): {h.status} but "
        f"{h.remaining_amount} remaining"
        for h in closed
    ]
    bad_sum = Hold.objects.exclude(
        amount=F("posted_amount") + F("released_amount") + F("remaining_amount")
    )
    problems += [f"hold {h.pk}: amounts do not add up" for h in bad_sum]
    wrong_account = Hold.objects.exclude(
        Q(held_account__owner=F("user"), held_account__asset=F("asset"))
    )
    problems += [f"hold {h.pk}: held account is not its user's" for h in wrong_account]
    return problems


def check_entries_name_existing_rows() -> list[str]:
    """What the entries' reference trigger guarantees (config/references.py),
    checked again over the whole table: every entry's journal and account
    exist."""
    problems = []
    # one NOT EXISTS each: PostgreSQL runs each as one anti-join over the table
    for name, model in (("journal", Journal), ("account", Account)):
        orphans = Entry.objects.filter(
            ~Exists(model.objects.filter(pk=OuterRef(f"{name}_id")))
        ).values_list("pk", f"{name}_id")
        problems += [
            f"entry {pk}: its {name} {missing} does not exist"
            for pk, missing in orphans.order_by("pk")
        ]
    return problems


CHECKS: dict[str, Check] = {
    "balances equal the sum of their entries": check_balances_match_entries,
    "last entry's balance_after equals the balance": check_last_balance_after,
    "each asset sums to zero over all accounts": check_assets_sum_to_zero,
    "only external and receivable accounts are negative": check_no_negative_balances,
    "each journal sums to zero per asset": check_journals_balanced,
    "held balances equal pending holds": check_held_matches_holds,
    "each entry names an existing journal and account": (
        check_entries_name_existing_rows
    ),
}


def register_check(name: str, check: Check) -> None:
    """Add an invariant owned by another app (e.g. trading's open-order holds)."""
    CHECKS[name] = check


def ledger_verify() -> list[CheckResult]:
    return [CheckResult(name, check()) for name, check in CHECKS.items()]


def ledger_problems() -> list[str]:
    return [
        f"{result.name}: {problem}"
        for result in ledger_verify()
        for problem in result.problems
    ]
