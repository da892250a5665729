"""The posting service: the only code that writes balances, entries and holds.

Every money movement of the platform is a `Journal` of signed `Entry` rows that sum
to zero per asset. `ledger_post` (one journal) and `ledger_post_batch` (many journals
in one transaction) share one code path, which:

1. validates each journal (integer amounts, zero-sum per asset, hold legs sane)
   before touching the database;
2. claims each `(kind, reference)` by inserting the journal row; a reference that
   already exists returns the first journal (idempotent retries), and refuses with
   409 when the retry asked for different entries;
3. locks the touched holds, then the touched accounts, each in primary-key order
   (`select_for_update`), so concurrent postings never deadlock;
4. computes each balance after each entry from the locked rows, refusing an
   overdraft with `insufficient_funds` (422) before writing anything;
5. inserts the entries in one statement (`config.bulk.insert_rows`; each carries
   `balance_after`), moves the balances with one `F()` update, and updates the
   holds' amounts and status.

The database is the backstop: a CHECK keeps every account but `external`
non-negative, another keeps each hold's amounts adding up.

Holds (reservations) are legs of a journal (`HoldLeg`): `add` moves `available ->
held`, `post` takes from `held` towards the journal's other postings, `release`
returns `held -> available`. Trading settles a trade as ONE journal with two legs
(`post` of the buyer's quote hold and of the seller's base hold) and the postings
that pay the counterparties and the fee accounts.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from accounts.models import User
from config import events
from config.bulk import (
    bulk_add,
    bulk_update_rows,
    column_in,
    insert_one,
    insert_rows,
    insert_sql,
    instance_from_row,
    model_columns,
    new_instance,
    rows_locked,
)
from config.errors import ApplicationError, Conflict, Unprocessable
from wallet.errors import WalletErrorCode as Code
from wallet.events import BalancesChanged
from wallet.models import Account, Asset, Entry, Hold, Journal
from wallet.money import MAX_UNITS, format_units


@dataclass(frozen=True)
class Posting:
    """`amount` (signed units) into `account`; zero amounts are skipped."""

    account: Account
    amount: int


@dataclass(frozen=True)
class HoldLeg:
    """A change of one hold inside a journal (all amounts >= 0 units).

    post:    held -> the journal's other postings (a fill, a withdrawal payout)
    release: held -> the hold owner's available (cancel, amend down, leftovers)
    add:     the owner's available -> held (placing or growing the hold)
    """

    hold: Hold
    post: int = 0
    release: int = 0
    add: int = 0


@dataclass(frozen=True)
class JournalSpec:
    kind: str
    reference: str
    postings: Sequence[Posting] = ()
    hold_legs: Sequence[HoldLeg] = ()
    metadata: dict = field(default_factory=dict)


_HOLD_FIELDS = (
    "amount",
    "posted_amount",
    "released_amount",
    "remaining_amount",
    "status",
    "updated_at",
)


@dataclass
class _Line:
    account_id: int
    asset_id: int
    amount: int


# --- Accounts ---------------------------------------------------------------------


def account_ensure(*, asset: Asset, kind: str, owner: User | None = None) -> Account:
    """The account of `owner` (None: the system) for `asset` and `kind`, created on
    first use. Balances only ever change through the posting service."""
    return account_get_or_create(asset=asset, kind=kind, owner=owner)[0]


def account_get_or_create(
    *, asset: Asset, kind: str, owner: User | None = None
) -> tuple[Account, bool]:
    """`account_ensure`, also saying whether this transaction created the row."""
    if (owner is None) != (kind in Account.SYSTEM_KINDS):
        raise ValueError(f"account kind {kind!r} does not fit owner {owner!r}")
    return Account.objects.get_or_create(owner=owner, asset=asset, kind=kind)


def user_accounts_ensure(*, user: User, asset: Asset) -> tuple[Account, Account]:
    """(available, held) of a user for an asset."""
    return (
        account_ensure(owner=user, asset=asset, kind=Account.Kind.AVAILABLE),
        account_ensure(owner=user, asset=asset, kind=Account.Kind.HELD),
    )


def accounts_lock(account_ids: Sequence[int]) -> dict[int, Account]:
    """Lock accounts in pk order (the one order every transaction uses)."""
    return rows_locked(Account, sorted(set(account_ids)))


# --- Validation -------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _lines(spec: JournalSpec) -> list[_Line]:
    """The entries a spec asks for, validated (no database access)."""
    if not spec.kind or not spec.reference or len(spec.reference) > 128:
        raise ValueError("a journal needs a kind and a reference of 1-128 chars")
    lines: list[_Line] = []
    for posting in spec.postings:
        if not _is_int(posting.amount):
            raise TypeError("posting amounts must be int units")
        if abs(posting.amount) > MAX_UNITS:
            raise ApplicationError(Code.INVALID_AMOUNT, "amount: is too large.")
        if posting.amount:
            lines.append(
                _Line(posting.account.pk, posting.account.asset_id, posting.amount)
            )
    seen_holds: set[int] = set()
    for leg in spec.hold_legs:
        amounts = (leg.post, leg.release, leg.add)
        if not all(_is_int(a) and 0 <= a <= MAX_UNITS for a in amounts):
            raise ValueError("hold leg amounts must be int units >= 0")
        if leg.add and (leg.post or leg.release):
            raise ValueError("a hold leg either adds or takes, not both")
        if leg.hold.pk is None or leg.hold.pk in seen_holds:
            raise ValueError("each hold appears at most once per journal")
        seen_holds.add(leg.hold.pk)
        held_delta = leg.add - leg.post - leg.release
        available_delta = leg.release - leg.add
        if held_delta:
            lines.append(_Line(leg.hold.held_account_id, leg.hold.asset_id, held_delta))
        if available_delta:
            lines.append(
                _Line(leg.hold.available_account_id, leg.hold.asset_id, available_delta)
            )
    if not lines:
        raise ValueError(f"journal {spec.kind}:{spec.reference} has no entries")
    sums: Counter[int] = Counter()
    for line in lines:
        sums[line.asset_id] += line.amount
    unbalanced = {asset_id: total for asset_id, total in sums.items() if total}
    if unbalanced:
        raise ApplicationError(
            Code.UNBALANCED_JOURNAL,
            f"journal {spec.kind}:{spec.reference} does not sum to zero per asset.",
            details={"unbalanced": {str(k): v for k, v in unbalanced.items()}},
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return lines


def _check_replay(journal: Journal, lines: list[_Line]) -> Journal:
    stored = Counter(journal.entries.values_list("account_id", "amount"))
    wanted = Counter((line.account_id, line.amount) for line in lines)
    if stored != wanted:
        raise Conflict(
            Code.JOURNAL_REFERENCE_CONFLICT,
            f"journal {journal.kind}:{journal.reference} already exists with other "
            "entries.",
        )
    return journal


def _insufficient(account: Account, balance: int, needed: int) -> Unprocessable:
    asset = Asset.objects.get(pk=account.asset_id)
    have = format_units(balance, asset.decimals)
    need = format_units(needed, asset.decimals)
    message = (
        f"amount: insufficient funds, {have} {asset.code} {account.kind} "
        f"but {need} needed."
    )
    return Unprocessable(
        Code.INSUFFICIENT_FUNDS,
        message,
        details={"amount": [message], "asset": asset.code},
    )


def _overflow() -> ApplicationError:
    return ApplicationError(
        Code.BALANCE_OVERFLOW,
        "amount: the balance would exceed the 64-bit limit.",
        details={"amount": ["Balance would overflow."]},
    )


# --- Posting ----------------------------------------------------------------------


def _claim(specs_lines: list[tuple[JournalSpec, list[_Line]]]) -> list[Journal | None]:
    """Existing journals (replays, checked) or None where a new one is needed."""
    # kind + reference: the columns of the unique index, so this is an index probe
    kinds = {spec.kind for spec, _ in specs_lines}
    references = {spec.reference for spec, _ in specs_lines}
    kind_in, kind_params = column_in("j.kind", sorted(kinds))
    reference_in, reference_params = column_in("j.reference", sorted(references))
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            # names from the model, values bound
            f"SELECT {model_columns(Journal, 'j')} FROM {Journal._meta.db_table} j"  # noqa: S608
            f" WHERE {kind_in} AND {reference_in}",
            kind_params + reference_params,
        )
        rows = cursor.fetchall()
    existing = {
        (journal.kind, journal.reference): journal
        for journal in (instance_from_row(Journal, row) for row in rows)
    }
    found: list[Journal | None] = []
    for spec, lines in specs_lines:
        journal = existing.get((spec.kind, spec.reference))
        found.append(_check_replay(journal, lines) if journal else None)
    return found


def _new_journals(specs: list[JournalSpec]) -> list[Journal]:
    now = timezone.now()
    return [
        new_instance(
            Journal,
            kind=spec.kind,
            reference=spec.reference,
            created_at=now,
            metadata=spec.metadata or {},
        )
        for spec in specs
    ]


def _post_many(specs: Sequence[JournalSpec], *, fresh: bool = False) -> list[Journal]:
    specs_lines = [(spec, _lines(spec)) for spec in specs]
    keys = [(spec.kind, spec.reference) for spec in specs]
    if len(set(keys)) != len(keys):
        raise ValueError("a batch may not repeat a (kind, reference)")
    if fresh:  # no replay lookup, no savepoints: see ledger_post_batch
        with transaction.atomic(savepoint=False):
            new = _new_journals([spec for spec, _ in specs_lines])
            insert_rows(new)
            _apply(specs_lines, new)
            return new
    with transaction.atomic():
        for attempt in (1, 2):
            found = _claim(specs_lines)
            new = _new_journals(
                [
                    spec
                    for (spec, _), journal in zip(specs_lines, found, strict=True)
                    if journal is None
                ]
            )
            try:
                with transaction.atomic():
                    insert_rows(new)
                break
            except IntegrityError:
                # A concurrent twin committed the same reference first: replay it.
                if attempt == 2:
                    raise
        todo = [
            (spec, lines)
            for (spec, lines), journal in zip(specs_lines, found, strict=True)
            if journal is None
        ]
        if todo:
            _apply(todo, new)
        new_iter = iter(new)
        return [journal or next(new_iter) for journal in found]


def _apply(todo: list[tuple[JournalSpec, list[_Line]]], journals: list[Journal]):
    # 1. Holds first, then accounts, each in pk order: the global lock order.
    hold_ids = sorted({leg.hold.pk for spec, _ in todo for leg in spec.hold_legs})
    holds: dict[int, Hold] = {}
    if hold_ids:
        holds = rows_locked(Hold, hold_ids)
    account_ids = {line.account_id for _, lines in todo for line in lines}
    accounts = accounts_lock(sorted(account_ids))
    if len(accounts) != len(account_ids):
        raise ValueError("a posting names an account that does not exist")

    # 2. Holds: apply legs in order, refusing anything that is not pending or
    #    would take more than remains.
    now = timezone.now()
    for spec, _ in todo:
        for leg in spec.hold_legs:
            hold = holds[leg.hold.pk]
            if hold.status != Hold.Status.PENDING:
                raise Conflict(
                    Code.HOLD_NOT_PENDING,
                    f"hold {hold.reference_kind}:{hold.reference_id} is already "
                    f"{hold.status}.",
                )
            taken = leg.post + leg.release
            if taken > hold.remaining_amount:
                raise Conflict(
                    Code.HOLD_AMOUNT_EXCEEDED,
                    f"hold {hold.reference_kind}:{hold.reference_id} has "
                    f"{hold.remaining_amount} units left, {taken} asked.",
                )
            hold.amount += leg.add
            hold.posted_amount += leg.post
            hold.released_amount += leg.release
            hold.remaining_amount += leg.add - taken
            hold.updated_at = now
            if hold.remaining_amount == 0 and taken:
                hold.status = Hold.Status.VOIDED if leg.release else Hold.Status.POSTED

    # 3. Balances: exact, from the locked rows; refuse overdrafts before writing.
    balances = {pk: account.balance for pk, account in accounts.items()}
    entries: list[Entry] = []
    for (_, lines), journal in zip(todo, journals, strict=True):
        for line in lines:
            account = accounts[line.account_id]
            if account.asset_id != line.asset_id:
                raise ValueError("posting account asset mismatch")
            before = balances[line.account_id]
            after = before + line.amount
            # Checked after every entry, so no balance_after is ever negative.
            if after < 0 and account.kind != Account.Kind.EXTERNAL:
                raise _insufficient(account, before, -line.amount)
            if abs(after) > MAX_UNITS:
                raise _overflow()
            balances[line.account_id] = after
            entries.append(
                new_instance(
                    Entry,
                    journal=journal,
                    account_id=line.account_id,
                    amount=line.amount,
                    balance_after=after,
                    created_at=journal.created_at,
                )
            )

    # 4. Write: entries, balances (+ delta), holds.
    deltas: Counter[int] = Counter()
    for entry in entries:
        deltas[entry.account_id] += entry.amount
    deltas = Counter({pk: delta for pk, delta in deltas.items() if delta})
    # No savepoint here: an IntegrityError leaves through the caller's atomic block
    # (ledger_post's own), which rolls the whole posting back.
    try:
        insert_rows(entries, returning=False)  # nothing needs their ids
        bulk_add(Account, "balance", deltas)
        if holds:
            bulk_update_rows(Hold, list(holds.values()), _HOLD_FIELDS)
    except IntegrityError as exc:  # the DB CHECKs are the backstop
        raise Unprocessable(
            Code.INSUFFICIENT_FUNDS, "amount: insufficient funds."
        ) from exc
    for account_id, account in accounts.items():
        account.balance = balances[account_id]
    events.record(BalancesChanged(accounts=[accounts[pk] for pk in sorted(deltas)]))
    # Callers keep their Hold instances: bring them up to date.
    for spec, _ in todo:
        for leg in spec.hold_legs:
            fresh = holds[leg.hold.pk]
            for name in _HOLD_FIELDS:
                setattr(leg.hold, name, getattr(fresh, name))


def ledger_post(
    *,
    kind: str,
    reference: str,
    postings: Sequence[Posting] = (),
    hold_legs: Sequence[HoldLeg] = (),
    metadata: dict | None = None,
) -> Journal:
    """Post one journal atomically (see the module docstring). A repeated
    `(kind, reference)` returns the first journal."""
    spec = JournalSpec(kind, reference, postings, hold_legs, metadata or {})
    return _post_many([spec])[0]


def ledger_post_batch(
    *, journals: Sequence[JournalSpec], fresh: bool = False
) -> list[Journal]:
    """Post many journals in ONE transaction (the matching engine's settlement and
    the benchmark): one lock pass, one entries insert, one balance update.

    `fresh=True` is for a caller whose references cannot have been posted before
    and that nobody can post concurrently (the matcher, whose references name
    commands it is applying under its instrument's lock): the replay lookup and
    both savepoints are skipped, and it must run inside the caller's
    transaction. Should a reference exist after all, the unique index refuses
    the journal and the caller's whole transaction fails: never a double post."""
    if not journals:
        return []
    if fresh and not transaction.get_connection().in_atomic_block:
        raise RuntimeError("fresh postings belong to the caller's transaction")
    return _post_many(journals, fresh=fresh)


# --- Holds ------------------------------------------------------------------------


def _hold_lock(hold: Hold) -> Hold:
    return Hold.objects.select_for_update().get(pk=hold.pk)


def hold_create(
    *,
    user: User,
    asset: Asset,
    amount: int,
    reference_kind: str,
    reference_id: str,
    metadata: dict | None = None,
    new_reference: bool = False,
) -> Hold:
    """Reserve `amount` units: journal `hold:<reference_kind>:<reference_id>`,
    available -> held. One hold per reference: a retry returns the same hold.
    Insufficient available funds: 422 `insufficient_funds`, nothing written.

    `new_reference=True` is for a caller that created the reference's owner in
    its still-open transaction (an order placement): no earlier hold or journal
    can exist, so the replay checks and their savepoints are skipped."""
    if not _is_int(amount) or not 0 < amount <= MAX_UNITS:
        raise ApplicationError(Code.INVALID_AMOUNT, "amount: must be > 0 units.")
    reference_id = str(reference_id)
    if new_reference:
        return _hold_create_new(
            user, asset, amount, reference_kind, reference_id, metadata or {}
        )
    with transaction.atomic():
        available, held = user_accounts_ensure(user=user, asset=asset)
        try:
            with transaction.atomic():
                hold = Hold.objects.create(
                    user=user,
                    asset=asset,
                    held_account=held,
                    available_account=available,
                    reference_kind=reference_kind,
                    reference_id=reference_id,
                )
        except IntegrityError:
            hold = Hold.objects.get(
                reference_kind=reference_kind, reference_id=reference_id
            )
            if hold.user_id != user.pk or hold.asset_id != asset.pk:
                raise Conflict(
                    Code.HOLD_REFERENCE_CONFLICT,
                    f"hold {reference_kind}:{reference_id} belongs to another "
                    "user or asset.",
                ) from None
            return hold
        ledger_post(
            kind=Journal.Kind.HOLD,
            reference=f"{reference_kind}:{reference_id}",
            hold_legs=[HoldLeg(hold, add=amount)],
            metadata={"hold": hold.pk, **(metadata or {})},
        )
        return hold


# every column of Account, in its fields' order (`Account.from_db` needs it)
_ACCOUNT_COLUMNS = ("id", "owner_id", "asset_id", "kind", "balance", "created_at")


def _hold_create_new(
    user: User,
    asset: Asset,
    amount: int,
    reference_kind: str,
    reference_id: str,
    metadata: dict,
) -> Hold:
    """The same journal `_post_many` would write, in two statements on PostgreSQL
    (lock both accounts, then write everything) and five elsewhere, instead of a
    dozen: the hold is new, so nobody else can see it and it needs no lock."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("new_reference holds belong to the caller's transaction")
    available_kind, held_kind = Account.Kind.AVAILABLE, Account.Kind.HELD

    table = Account._meta.db_table
    sql = (
        # the ORM's compiler cost more Python than this statement's round trip
        f"SELECT {', '.join(_ACCOUNT_COLUMNS)} FROM {table}"  # noqa: S608
        " WHERE owner_id = %s AND asset_id = %s AND kind IN (%s, %s) ORDER BY id"
    )
    connection = transaction.get_connection()
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"

    def locked() -> dict[str, Account]:
        with connection.cursor() as cursor:
            cursor.execute(
                sql, [user.pk, asset.pk, available_kind.value, held_kind.value]
            )
            rows = cursor.fetchall()
        return {
            row[3]: Account.from_db(connection.alias, _ACCOUNT_COLUMNS, row)
            for row in rows
        }

    accounts = locked()
    if len(accounts) < 2:  # first use of this asset: create, then lock
        user_accounts_ensure(user=user, asset=asset)
        accounts = locked()
    available, held = accounts[available_kind], accounts[held_kind]
    available.asset = held.asset = asset  # the balance hook names it
    if available.balance < amount:
        raise _insufficient(available, available.balance, amount)
    if held.balance + amount > MAX_UNITS:
        raise _overflow()
    now = timezone.now()
    hold = Hold(
        user=user,
        asset=asset,
        held_account=held,
        available_account=available,
        reference_kind=reference_kind,
        reference_id=reference_id,
        amount=amount,
        remaining_amount=amount,
        created_at=now,
        updated_at=now,
    )
    reference = f"{reference_kind}:{reference_id}"
    available.balance -= amount
    held.balance += amount
    # the same entry order as the general path: the held leg, then available
    legs = ((held, amount), (available, -amount))
    if connection.vendor == "postgresql":
        _hold_rows_in_one_statement(hold, reference, metadata, legs, now)
    else:
        insert_one(hold)
        journal = Journal(
            kind=Journal.Kind.HOLD,
            reference=reference,
            created_at=now,
            metadata={"hold": hold.pk, **metadata},
        )
        insert_one(journal)
        insert_rows(
            [
                Entry(
                    journal=journal,
                    account_id=account.pk,
                    amount=delta,
                    balance_after=account.balance,
                    created_at=now,
                )
                for account, delta in legs
            ]
        )
        bulk_add(Account, "balance", {held.pk: amount, available.pk: -amount})
    events.record(
        BalancesChanged(accounts=sorted((available, held), key=lambda a: a.pk))
    )
    return hold


def _hold_rows_in_one_statement(
    hold: Hold,
    reference: str,
    metadata: dict,
    legs: tuple[tuple[Account, int], ...],
    now,
) -> None:
    """PostgreSQL: the rows the other path writes one statement at a time (the hold,
    its journal, both entries, both balance moves), as one statement: on the order
    placement path each round trip cost more than the row it wrote. `legs` are
    (account with its new balance, amount), in entry order."""
    hold_sql, params = insert_sql(hold)
    journal, entry, account = (
        model._meta.db_table for model in (Journal, Entry, Account)
    )
    values = ", ".join(
        f"({number}, %s::bigint, %s::bigint, %s::bigint)" for number in range(len(legs))
    )
    deltas = ", ".join("(%s::bigint, %s::bigint)" for _ in legs)
    sql = (
        # table names from the models, values as parameters
        f"WITH h AS ({hold_sql}),"  # noqa: S608
        f" j AS (INSERT INTO {journal} (kind, reference, created_at, metadata)"
        "  SELECT %s, %s, %s, jsonb_build_object('hold', h.id) || %s::jsonb FROM h"
        "  RETURNING id),"
        f" e AS (INSERT INTO {entry}"
        "  (journal_id, account_id, amount, balance_after, created_at)"
        "  SELECT j.id, v.account, v.amount, v.after, %s"
        f"  FROM j, (VALUES {values}) AS v(number, account, amount, after)"
        "  ORDER BY v.number),"
        f" a AS (UPDATE {account} AS t SET balance = t.balance + v.delta"
        f"  FROM (VALUES {deltas}) AS v(id, delta) WHERE t.id = v.id)"
        " SELECT h.id FROM h"
    )
    params += [Journal.Kind.HOLD.value, reference, now, json.dumps(metadata), now]
    for leg_account, delta in legs:
        params += [leg_account.pk, delta, leg_account.balance]
    for leg_account, delta in legs:
        params += [leg_account.pk, delta]
    connection = transaction.get_connection()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (hold.pk,) = cursor.fetchone()
    hold._state.adding = False
    hold._state.db = connection.alias


def hold_post(
    *,
    hold: Hold,
    amount: int,
    postings: Sequence[Posting],
    kind: str,
    reference: str,
    metadata: dict | None = None,
) -> Journal:
    """Take `amount` units out of a pending hold into `postings` (which must add up
    to `amount` in the hold's asset). May be called many times (partial fills);
    the hold becomes `posted` when nothing remains."""
    return ledger_post(
        kind=kind,
        reference=reference,
        postings=postings,
        hold_legs=[HoldLeg(hold, post=amount)],
        metadata={"hold": hold.pk, **(metadata or {})},
    )


def hold_void(
    *,
    hold: Hold,
    reference: str | None = None,
    metadata: dict | None = None,
) -> Journal:
    """Release what remains of a hold (held -> available); the hold becomes
    `voided`. Repeating the same reference returns the same journal; voiding a hold
    that is no longer pending is a 409 `hold_not_pending`."""
    reference = reference or f"{hold.reference_kind}:{hold.reference_id}"
    with transaction.atomic():
        existing = Journal.objects.filter(
            kind=Journal.Kind.RELEASE, reference=reference
        ).first()
        if existing is not None:
            hold.refresh_from_db()
            return existing
        locked = _hold_lock(hold)
        if locked.status != Hold.Status.PENDING:
            raise Conflict(
                Code.HOLD_NOT_PENDING,
                f"hold {hold.reference_kind}:{hold.reference_id} is already "
                f"{locked.status}.",
            )
        return ledger_post(
            kind=Journal.Kind.RELEASE,
            reference=reference,
            hold_legs=[HoldLeg(hold, release=locked.remaining_amount)],
            metadata={"hold": hold.pk, **(metadata or {})},
        )


def hold_adjust(
    *,
    hold: Hold,
    delta: int,
    reference: str,
    metadata: dict | None = None,
) -> Journal:
    """Grow (`delta > 0`, available -> held) or shrink (`delta < 0`, held ->
    available) a pending hold, e.g. for an order amend. Shrinking to zero is a
    `hold_void`; growing past the available balance is `insufficient_funds`."""
    if not _is_int(delta) or delta == 0:
        raise ValueError("delta must be a non-zero int")
    with transaction.atomic():
        existing_kind = Journal.Kind.HOLD if delta > 0 else Journal.Kind.RELEASE
        if Journal.objects.filter(kind=existing_kind, reference=reference).exists():
            hold.refresh_from_db()
            return Journal.objects.get(kind=existing_kind, reference=reference)
        locked = _hold_lock(hold)
        if locked.status != Hold.Status.PENDING:
            raise Conflict(
                Code.HOLD_NOT_PENDING,
                f"hold {hold.reference_kind}:{hold.reference_id} is already "
                f"{locked.status}.",
            )
        if delta < 0 and -delta >= locked.remaining_amount:
            raise Conflict(
                Code.HOLD_AMOUNT_EXCEEDED,
                f"hold {hold.reference_kind}:{hold.reference_id} has "
                f"{locked.remaining_amount} units left; shrinking by {-delta} "
                "would empty it (void it instead).",
            )
        leg = HoldLeg(hold, add=delta) if delta > 0 else HoldLeg(hold, release=-delta)
        return ledger_post(
            kind=existing_kind,
            reference=reference,
            hold_legs=[leg],
            metadata={"hold": hold.pk, "delta": delta, **(metadata or {})},
        )


# --- Many new holds at once -------------------------------------------------------


@dataclass
class HoldRequest:
    """One new hold of `holds_create_new` / `NewHolds.add`.

    `amount=None` asks for the whole available balance left when its turn comes
    (a market buy's budget); less than `minimum` left does not fit. The
    `reference_id` may be filled in after `add` and before `write` (a caller
    whose owners get their ids only when inserted)."""

    asset: Asset
    amount: int | None
    reference_kind: str
    reference_id: str = ""
    metadata: dict = field(default_factory=dict)
    minimum: int = 1


def _insufficient_in(asset: Asset, kind: str, balance: int, needed: int):
    """`_insufficient`'s refusal, word for word, naming an asset already at hand
    (no query per refused request)."""
    have = format_units(balance, asset.decimals)
    need = format_units(needed, asset.decimals)
    message = (
        f"amount: insufficient funds, {have} {asset.code} {kind} but {need} needed."
    )
    return Unprocessable(
        Code.INSUFFICIENT_FUNDS,
        message,
        details={"amount": [message], "asset": asset.code},
    )


class NewHolds:
    """New holds of one user (their references new, like `hold_create`'s
    `new_reference=True`), judged one at a time in the order they are added,
    each against what the ones before it left of the locked balances, then
    written together by `write`: the holds, their journals
    (`hold:<reference_kind>:<reference_id>`), both entries of each and the
    balance moves. Made by `holds_lock_new`, inside the caller's transaction."""

    def __init__(self, user: User, assets: dict[int, Asset], accounts: list[Account]):
        self.user = user
        self._assets = assets
        self._available: dict[int, Account] = {}
        self._held: dict[int, Account] = {}
        for account in accounts:
            account.asset = assets[account.asset_id]  # the balance hook names it
            if account.kind == Account.Kind.AVAILABLE:
                self._available[account.asset_id] = account
            else:
                self._held[account.asset_id] = account
        # running balances: what the holds added so far leave
        self._left = {pk: a.balance for pk, a in self._available.items()}
        self._held_added = dict.fromkeys(assets, 0)
        self._holds: list[Hold] = []
        self._metadata: list[dict] = []
        self._written = False

    def add(self, request: HoldRequest) -> Hold | ApplicationError:
        """The new hold (written by `write`), or why it does not fit: 422
        `insufficient_funds` (`hold_create`'s words, with the balance left at
        this point), 400 `invalid_amount`, `balance_overflow`. Nothing is
        raised for a refusal and nothing changes; the next request is judged
        as if this one had not been asked."""
        if self._written:
            raise RuntimeError("these holds are already written")
        asset = self._assets.get(request.asset.pk)
        if asset is None:
            raise ValueError(f"asset {request.asset.pk} was not locked")
        left = self._left.get(asset.pk, 0)  # no account yet: nothing available
        amount = request.amount
        if amount is None:
            if left < max(request.minimum, 1):
                return _insufficient_in(
                    asset, Account.Kind.AVAILABLE, left, max(request.minimum, 1)
                )
            amount = left
        elif not _is_int(amount) or not 0 < amount <= MAX_UNITS:
            return ApplicationError(Code.INVALID_AMOUNT, "amount: must be > 0 units.")
        elif left < amount:
            return _insufficient_in(asset, Account.Kind.AVAILABLE, left, amount)
        held = self._held.get(asset.pk)
        held_before = (held.balance if held else 0) + self._held_added[asset.pk]
        if held_before + amount > MAX_UNITS:
            return _overflow()
        self._left[asset.pk] = left - amount
        self._held_added[asset.pk] += amount
        now = timezone.now()
        hold = Hold(
            user=self.user,
            asset=asset,
            available_account=self._available[asset.pk],
            reference_kind=request.reference_kind,
            reference_id=str(request.reference_id),
            amount=amount,
            remaining_amount=amount,
            created_at=now,
            updated_at=now,
        )
        if held is not None:
            hold.held_account = held
        self._holds.append(hold)
        self._metadata.append(request.metadata or {})
        return hold

    def write(self) -> list[Hold]:
        """Write every hold `add` accepted, in as few statements as the
        database allows (one on PostgreSQL), then record one `BalancesChanged`
        with the accounts that moved. A held account the user never had is created
        here, only for an asset that really gets a hold."""
        if self._written:
            raise RuntimeError("these holds are already written")
        self._written = True
        holds = self._holds
        if not holds:
            return []
        references = [(h.reference_kind, h.reference_id) for h in holds]
        if len(set(references)) != len(references) or not all(
            kind and reference for kind, reference in references
        ):
            raise ValueError("each new hold needs a reference of its own")
        if missing := {h.asset_id for h in holds} - self._held.keys():
            self._held_accounts_create(missing)
            for hold in holds:
                hold.held_account = self._held[hold.asset_id]

        # Entries in the order of the holds, held leg first (as the general path
        # writes them), each with the balance right after it.
        balances = {
            account.pk: account.balance
            for account in (*self._available.values(), *self._held.values())
        }
        # (hold index, account id, amount, balance after)
        legs: list[tuple[int, int, int, int]] = []
        for index, hold in enumerate(holds):
            for account_id, delta in (
                (hold.held_account_id, hold.amount),
                (hold.available_account_id, -hold.amount),
            ):
                balances[account_id] += delta
                legs.append((index, account_id, delta, balances[account_id]))
        deltas: Counter[int] = Counter()
        for _, account_id, delta, _ in legs:
            deltas[account_id] += delta

        now = timezone.now()
        if transaction.get_connection().vendor == "postgresql":
            _new_holds_in_one_statement(holds, self._metadata, legs, deltas, now)
        else:
            insert_rows(holds)
            journals = [
                Journal(
                    kind=Journal.Kind.HOLD,
                    reference=f"{hold.reference_kind}:{hold.reference_id}",
                    created_at=now,
                    metadata={"hold": hold.pk, **metadata},
                )
                for hold, metadata in zip(holds, self._metadata, strict=True)
            ]
            insert_rows(journals)
            insert_rows(
                [
                    Entry(
                        journal=journals[index],
                        account_id=account_id,
                        amount=delta,
                        balance_after=after,
                        created_at=now,
                    )
                    for index, account_id, delta, after in legs
                ]
            )
            bulk_add(Account, "balance", dict(deltas))
        touched = []
        for account in (*self._available.values(), *self._held.values()):
            if account.pk in deltas:
                account.balance = balances[account.pk]
                touched.append(account)
        touched.sort(key=lambda account: account.pk)
        events.record(BalancesChanged(accounts=touched))
        return holds

    def _held_accounts_create(self, asset_ids: set[int]) -> None:
        made = [
            user_accounts_ensure(user=self.user, asset=self._assets[asset_id])[1].pk
            for asset_id in sorted(asset_ids)
        ]
        # Lock what was just made (or found, had someone made it meanwhile): its
        # balance is the one the entries start from.
        for account in rows_locked(Account, made).values():
            account.asset = self._assets[account.asset_id]
            if account.balance + self._held_added[account.asset_id] > MAX_UNITS:
                raise _overflow()
            self._held[account.asset_id] = account


def holds_lock_new(*, user: User, assets: Sequence[Asset]) -> NewHolds:
    """Lock the user's available and held accounts of `assets` (one statement,
    in pk order, as every posting does) for new holds to be judged with
    `NewHolds.add` and written with `NewHolds.write`. An account the user does
    not have yet is not created here: with no available account nothing fits,
    and a missing held account is made by `write` if a hold needs it, so a
    request that does not fit leaves nothing written. In the caller's
    transaction."""
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("new holds belong to the caller's transaction")
    by_id = {asset.pk: asset for asset in assets}
    accounts: list[Account] = []
    if by_id:
        asset_in, asset_params = column_in("asset_id", sorted(by_id))
        sql = (
            # names from the model, values as parameters
            f"SELECT {', '.join(_ACCOUNT_COLUMNS)}"  # noqa: S608
            f" FROM {Account._meta.db_table}"
            f" WHERE owner_id = %s AND {asset_in} AND kind IN (%s, %s) ORDER BY id"
        )
        if connection.features.has_select_for_update:
            sql += " FOR UPDATE"
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                [
                    user.pk,
                    *asset_params,
                    Account.Kind.AVAILABLE.value,
                    Account.Kind.HELD.value,
                ],
            )
            rows = cursor.fetchall()
        accounts = [
            Account.from_db(connection.alias, _ACCOUNT_COLUMNS, row) for row in rows
        ]
    return NewHolds(user, by_id, accounts)


def holds_create_new(
    *, user: User, requests: Sequence[HoldRequest]
) -> list[Hold | ApplicationError]:
    """Many new holds of one user in one go: what `hold_create(new_reference=True)`
    does for one, for each request in order (each judged against the balances
    the ones before it left), written together. Returns, per request, its hold
    or the refusal it would have raised alone (`NewHolds.add`); refusals write
    nothing. A caller whose later requests depend on whether earlier ones fit
    (the order batch: open-order limit, client order ids) uses
    `holds_lock_new` and `NewHolds` directly."""
    holds = holds_lock_new(
        user=user, assets=list({r.asset.pk: r.asset for r in requests}.values())
    )
    results = [holds.add(request) for request in requests]
    holds.write()
    return results


def _new_holds_in_one_statement(
    holds: list[Hold],
    metadata: list[dict],
    legs: list[tuple[int, int, int, int]],
    deltas: Counter[int],
    now,
) -> None:
    """PostgreSQL: the holds, their journals, entries and balance moves in one
    statement whose text does not depend on how many holds (arrays, unnested),
    so a pooled connection prepares it once. Rows go in in the order given (ids
    in that order: each account's last entry carries its balance), matched to
    each other by reference; the holds get their ids back."""
    hold_table, journal_table, entry_table, account_table = (
        model._meta.db_table for model in (Hold, Journal, Entry, Account)
    )
    references = [f"{h.reference_kind}:{h.reference_id}" for h in holds]
    sql = (
        # table names from the models, values as parameters
        "WITH v AS (SELECT * FROM unnest(%b::int[], %b::bigint[], %b::bigint[],"  # noqa: S608
        " %b::bigint[], %b::bigint[], %b::text[], %b::text[], %b::bigint[],"
        " %b::text[]) AS v(n, asset_id, held_id, available_id, user_id,"
        " reference_kind, reference_id, amount, metadata)),"
        f" h AS (INSERT INTO {hold_table} (user_id, asset_id, held_account_id,"
        "  available_account_id, reference_kind, reference_id, amount,"
        "  posted_amount, released_amount, remaining_amount, status, created_at,"
        "  updated_at)"
        "  SELECT v.user_id, v.asset_id, v.held_id, v.available_id,"
        "  v.reference_kind, v.reference_id, v.amount, 0, 0, v.amount, %s, %s, %s"
        "  FROM v ORDER BY v.n RETURNING id, reference_kind, reference_id),"
        f" j AS (INSERT INTO {journal_table} (kind, reference, created_at, metadata)"
        "  SELECT %s, v.reference_kind || ':' || v.reference_id, %s,"
        "  jsonb_build_object('hold', h.id) || v.metadata::jsonb"
        "  FROM v JOIN h ON h.reference_kind = v.reference_kind"
        "  AND h.reference_id = v.reference_id ORDER BY v.n RETURNING id, reference),"
        f" e AS (INSERT INTO {entry_table}"
        "  (journal_id, account_id, amount, balance_after, created_at)"
        "  SELECT j.id, x.account, x.amount, x.after, %s"
        "  FROM unnest(%b::int[], %b::text[], %b::bigint[], %b::bigint[],"
        "  %b::bigint[]) AS x(n, reference, account, amount, after)"
        "  JOIN j ON j.reference = x.reference ORDER BY x.n),"
        f" a AS (UPDATE {account_table} AS t SET balance = t.balance + d.delta"
        "  FROM unnest(%b::bigint[], %b::bigint[]) AS d(id, delta) WHERE t.id = d.id)"
        " SELECT h.id, h.reference_kind, h.reference_id FROM h"
    )
    params = [
        list(range(len(holds))),
        [h.asset_id for h in holds],
        [h.held_account_id for h in holds],
        [h.available_account_id for h in holds],
        [h.user_id for h in holds],
        [h.reference_kind for h in holds],
        [h.reference_id for h in holds],
        [h.amount for h in holds],
        [json.dumps(m) for m in metadata],
        Hold.Status.PENDING.value,
        now,
        now,
        Journal.Kind.HOLD.value,
        now,
        now,
        list(range(len(legs))),
        [references[index] for index, _, _, _ in legs],
        [account for _, account, _, _ in legs],
        [amount for _, _, amount, _ in legs],
        [after for _, _, _, after in legs],
        list(deltas),
        list(deltas.values()),
    ]
    connection = transaction.get_connection()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = {(kind, reference): pk for pk, kind, reference in cursor.fetchall()}
    for hold in holds:
        hold.pk = ids[(hold.reference_kind, hold.reference_id)]
        hold._state.adding = False
        hold._state.db = connection.alias
