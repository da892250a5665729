"""The posting service: the only code that writes balances, entries and holds.

Every money movement of the platform is a `Journal` of signed `Entry` rows that sum
to zero per asset. `ledger_post` (one journal) and `ledger_post_batch` (many journals
in one transaction) share one code path, which:

1. validates each journal (integer amounts, zero-sum per asset, hold legs sane)
   before touching the database, into plain `(account, asset, amount)` lines;
2. claims each `(kind, reference)` by inserting the journal rows, all in one
   statement (`queries.journals_insert`, `ON CONFLICT DO NOTHING`): a reference
   that already exists (or that a concurrent twin committed, which the unique
   index waits for) returns the first journal (idempotent retries), and is
   refused with 409 when the retry asked for different entries;
3. locks the touched holds, then the touched accounts, each in primary-key order
   (`select_for_update`), so concurrent postings never deadlock;
4. computes each balance after each entry from the locked rows (`_Balances`, the
   one place an overdraft or overflow is refused: `insufficient_funds` 422,
   `balance_overflow`) before writing anything;
5. writes the entries straight from the lines (each carries `balance_after`; no
   model instance per entry), each account's net move as one aggregated update
   and the holds, in one statement (`queries.postings_write`), and records one
   `BalancesChanged` naming each account that moved once, with its balance
   after the whole batch.

New holds whose reference is new (order placement, one or a batch) take the same
checks through `NewHolds`, which writes the holds with their journals in one
statement (wallet/queries.py). The database is the backstop: a CHECK keeps every
account but `external` non-negative (its violation is `insufficient_funds`),
others keep each hold's amounts adding up (a violation of those is a bug and
propagates as it is).

Holds (reservations) are legs of a journal (`HoldLeg`): `add` moves `available ->
held`, `post` takes from `held` towards the journal's other postings, `release`
returns `held -> available`. Trading settles a trade as ONE journal with two legs
(`post` of the buyer's quote hold and of the seller's base hold) and the postings
that pay the counterparties and the fee accounts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn, overload

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from config import events
from config.bulk import new_instance, rows_locked, violated_constraint
from config.domain_errors import (
    ApplicationError,
    Conflict,
    InvariantViolated,
    Unprocessable,
)
from wallet import queries
from wallet.errors import WalletErrorCode as Code
from wallet.events import BalancesChanged
from wallet.models import Account, Asset, Hold, Journal
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


# The CHECK that keeps every account but `external` and `receivable` >= 0
# (wallet/models): the one constraint whose violation means insufficient funds.
NON_NEGATIVE_BALANCE = "account_balance_non_negative"
_MAY_GO_NEGATIVE = (Account.Kind.EXTERNAL, Account.Kind.RECEIVABLE)

_HOLD_FIELDS = (
    "amount",
    "posted_amount",
    "released_amount",
    "remaining_amount",
    "status",
    "updated_at",
)


# One entry a journal asks for: (account id, asset id, signed units). Plain
# tuples: a batch makes thousands.
_Line = tuple[int, int, int]


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
        amount = posting.amount
        if type(amount) is not int and not _is_int(amount):
            raise TypeError("posting amounts must be int units")
        if not -MAX_UNITS <= amount <= MAX_UNITS:
            raise ApplicationError(Code.INVALID_AMOUNT, "amount: is too large.")
        if amount:
            account = posting.account
            lines.append((account.id, account.asset_id, amount))
    if spec.hold_legs:
        lines += _hold_lines(spec.hold_legs)
    if not lines:
        raise ValueError(f"journal {spec.kind}:{spec.reference} has no entries")
    sums: dict[int, int] = {}
    for _, asset_id, amount in lines:
        sums[asset_id] = sums.get(asset_id, 0) + amount
    if any(sums.values()):
        unbalanced = {asset_id: total for asset_id, total in sums.items() if total}
        raise InvariantViolated(
            Code.UNBALANCED_JOURNAL,
            f"journal {spec.kind}:{spec.reference} does not sum to zero per asset.",
            details={"unbalanced": {str(k): v for k, v in unbalanced.items()}},
        )
    return lines


def _hold_lines(legs: Sequence[HoldLeg]) -> list[_Line]:
    lines: list[_Line] = []
    seen_holds: set[int] = set()
    for leg in legs:
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
            lines.append((leg.hold.held_account_id, leg.hold.asset_id, held_delta))
        if available_delta:
            lines.append(
                (leg.hold.available_account_id, leg.hold.asset_id, available_delta)
            )
    return lines


def _check_replay(journal: Journal, lines: list[_Line]) -> Journal:
    stored = Counter(journal.entries.values_list("account_id", "amount"))
    wanted = Counter((account_id, amount) for account_id, _, amount in lines)
    if stored != wanted:
        raise Conflict(
            Code.JOURNAL_REFERENCE_CONFLICT,
            f"journal {journal.kind}:{journal.reference} already exists with other "
            "entries.",
        )
    return journal


def _insufficient(asset: Asset, kind: str, balance: int, needed: int):
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


def _overflow() -> ApplicationError:
    return ApplicationError(
        Code.BALANCE_OVERFLOW,
        "amount: the balance would exceed the 64-bit limit.",
        details={"amount": ["Balance would overflow."]},
    )


class _Balances:
    """The running balances of locked accounts: the one place where an entry's
    `balance_after` is computed and an overdraft or an overflow refused, for
    every posting and every new hold."""

    def __init__(self, accounts: dict[int, Account]) -> None:
        self.accounts = accounts
        self.current = {pk: account.balance for pk, account in accounts.items()}
        # (asset id, lowest balance allowed, highest) per account
        self._bounds = {
            pk: (
                account.asset_id,
                -MAX_UNITS if account.kind in _MAY_GO_NEGATIVE else 0,
                0 if account.kind == Account.Kind.RECEIVABLE else MAX_UNITS,
            )
            for pk, account in accounts.items()
        }

    def move(self, lines: Sequence[_Line]) -> list[int]:
        """Each line's balance after it, applied in order. Any account but
        `external` going below zero is `insufficient_funds`; past the 64-bit
        limit, `balance_overflow`; a refusal changes nothing."""
        current = self.current
        bounds = self._bounds
        moved: dict[int, int] = {}
        afters = []
        for account_id, asset_id, amount in lines:
            account_asset, low, high = bounds[account_id]
            if account_asset != asset_id:
                raise ValueError("posting account asset mismatch")
            before = moved.get(account_id)
            if before is None:
                before = current[account_id]
            after = before + amount
            if not low <= after <= high:
                self._refuse(account_id, before, amount)
            moved[account_id] = after
            afters.append(after)
        current.update(moved)
        return afters

    def _refuse(self, account_id: int, before: int, amount: int) -> NoReturn:
        """Why `before + amount` is out of the account's bounds."""
        account = self.accounts[account_id]
        after = before + amount
        if after < 0 and account.kind not in _MAY_GO_NEGATIVE:
            raise _insufficient(account.asset, account.kind, before, -amount)
        if after > 0 and account.kind == Account.Kind.RECEIVABLE:
            raise InvariantViolated(
                "receivable_overpaid",
                "A receivable cannot be repaid beyond what is owed.",
            )
        raise _overflow()

    def deltas(self) -> dict[int, int]:
        """{account id: net move}, for the accounts that moved."""
        return {
            pk: after - self.accounts[pk].balance
            for pk, after in self.current.items()
            if after != self.accounts[pk].balance
        }

    @contextmanager
    def written(
        self, without_alerts: frozenset[int] = frozenset()
    ) -> Iterator[dict[int, int]]:
        """Around the statements that write the moves (given the deltas): the
        database's CHECKs are the backstop, and only the non-negative balance
        one means insufficient funds; any other violation (a hold's amounts not
        adding up) is a bug and propagates. After the write the accounts carry
        their new balances and one `BalancesChanged` names those that moved,
        each once with its balance after the whole write, however many of the
        write's entries it has."""
        deltas = self.deltas()
        try:
            yield deltas
        except IntegrityError as exc:
            if violated_constraint(exc) != NON_NEGATIVE_BALANCE:
                raise
            raise Unprocessable(
                Code.INSUFFICIENT_FUNDS, "amount: insufficient funds."
            ) from exc
        for pk, account in self.accounts.items():
            account.balance = self.current[pk]
        events.record(
            BalancesChanged(
                accounts=[self.accounts[pk] for pk in sorted(deltas)],
                without_alerts=without_alerts,
            )
        )


# --- Posting ----------------------------------------------------------------------


def _post_many(
    specs: Sequence[JournalSpec], *, fresh: bool = False
) -> Sequence[Journal]:
    specs_lines = [(spec, _lines(spec)) for spec in specs]
    keys = {(spec.kind, spec.reference) for spec in specs}
    if len(keys) != len(specs):
        raise ValueError("a batch may not repeat a (kind, reference)")
    now = timezone.now()
    # fresh: no replays possible, so no savepoint either (see ledger_post_batch)
    with transaction.atomic(savepoint=not fresh):
        ids = queries.journals_insert(
            kinds=[spec.kind for spec in specs],
            references=[spec.reference for spec in specs],
            metadata=[spec.metadata or {} for spec in specs],
            now=now,
            skip_existing=not fresh,
        )
        pairs = list(zip(specs_lines, ids, strict=True))
        replayed = _replays([spec_lines for spec_lines, pk in pairs if pk is None])
        todo = [(spec, lines, pk) for (spec, lines), pk in pairs if pk is not None]
        if todo:
            _apply(todo, now)
    return _Journals(specs, ids, replayed, now)


def _replays(
    specs_lines: list[tuple[JournalSpec, list[_Line]]],
) -> dict[tuple[str, str], Journal]:
    """The journals posted before under these specs' references, each checked to
    have the entries its spec asks for (else 409)."""
    if not specs_lines:
        return {}
    found = {
        (journal.kind, journal.reference): journal
        for journal in queries.journals_with_keys(
            kinds=[spec.kind for spec, _ in specs_lines],
            references=[spec.reference for spec, _ in specs_lines],
        )
    }
    return {
        (spec.kind, spec.reference): _check_replay(
            found[(spec.kind, spec.reference)], lines
        )
        for spec, lines in specs_lines
    }


class _Journals(Sequence[Journal]):
    """A batch's journals in the order of its specs: a replayed one as it was
    read, a new one built from its spec and id when first read. The matcher
    never reads them; building a thousand model instances per batch was a
    tenth of the batch's Python."""

    def __init__(
        self,
        specs: Sequence[JournalSpec],
        ids: list[int | None],
        replayed: dict[tuple[str, str], Journal],
        now: datetime,
    ) -> None:
        self._specs = specs
        self._ids = ids
        self._replayed = replayed
        self._now = now
        self._built: dict[int, Journal] = {}
        self._alias = transaction.get_connection().alias

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> Journal: ...

    @overload
    def __getitem__(self, index: slice) -> list[Journal]: ...

    def __getitem__(self, index: int | slice) -> Journal | list[Journal]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        index = range(len(self))[index]  # negative indexes; IndexError past the end
        journal = self._built.get(index)
        if journal is None:
            journal = self._built[index] = self._build(index)
        return journal

    def _build(self, index: int) -> Journal:
        spec, pk = self._specs[index], self._ids[index]
        if pk is None:
            return self._replayed[(spec.kind, spec.reference)]
        journal = new_instance(
            Journal,
            id=pk,
            kind=spec.kind,
            reference=spec.reference,
            created_at=self._now,
            metadata=spec.metadata or {},
        )
        journal._state.adding = False
        journal._state.db = self._alias
        return journal


def _apply(todo: list[tuple[JournalSpec, list[_Line], int]], now) -> None:
    """Post the journals whose rows were just inserted (`(spec, lines, id)`):
    lock, judge every entry on the locked balances, then write the entries, the
    balances (one aggregated move per account) and the holds in one go."""
    # 1. Holds first, then accounts, each in pk order: the global lock order.
    hold_ids = sorted({leg.hold.pk for spec, _, _ in todo for leg in spec.hold_legs})
    holds: dict[int, Hold] = {}
    if hold_ids:
        holds = rows_locked(Hold, hold_ids)
    account_ids = {line[0] for _, lines, _ in todo for line in lines}
    accounts = accounts_lock(sorted(account_ids))
    if len(accounts) != len(account_ids):
        raise ValueError("a posting names an account that does not exist")

    # 2. Holds: apply legs in order, refusing anything that is not pending or
    #    would take more than remains.
    for spec, _, _ in todo:
        for leg in spec.hold_legs:
            hold = _require_pending(holds[leg.hold.pk])
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
    #    The entries go straight from the specs' lines into one list per column.
    balances = _Balances(accounts)
    journal_ids: list[int] = []
    entries: list[_Line] = []
    afters: list[int] = []
    for _, lines, journal_id in todo:
        afters += balances.move(lines)
        journal_ids += [journal_id] * len(lines)
        entries += lines

    # 4. Write: entries, balances (+ delta), holds, in one statement. No
    #    savepoint: an IntegrityError leaves through the caller's atomic block,
    #    which rolls the whole posting back.
    with balances.written() as deltas:
        queries.postings_write(
            entries=(
                journal_ids,
                [account_id for account_id, _, _ in entries],
                [amount for _, _, amount in entries],
                afters,
            ),
            deltas=deltas,
            holds=list(holds.values()),
            now=now,
        )
    # Callers keep their Hold instances: bring them up to date.
    for spec, _, _ in todo:
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
) -> Sequence[Journal]:
    """Post many journals in ONE transaction (the matching engine's settlement and
    the benchmark): one statement claims the journals (a reference posted
    before is replayed), one lock pass, then one statement writes every entry,
    each account's aggregated balance move and the holds; one
    `BalancesChanged` names each account that moved once. Returns the journals
    in the order of `journals` (built when read).

    `fresh=True` is for a caller whose references cannot have been posted before
    and that nobody can post concurrently (the matcher, whose references name
    commands it is applying under its instrument's lock): conflicts are not
    skipped and no savepoint is taken, and it must run inside the caller's
    transaction. Should a reference exist after all, the unique index refuses
    the journal and the caller's whole transaction fails: never a double post."""
    if not journals:
        return []
    if fresh and not transaction.get_connection().in_atomic_block:
        raise RuntimeError("fresh postings belong to the caller's transaction")
    return _post_many(journals, fresh=fresh)


# --- Holds ------------------------------------------------------------------------


def _require_pending(hold: Hold) -> Hold:
    """The hold, if still pending; a posted or voided one is a 409: nothing can
    be taken from, released from or added to it again."""
    if hold.status != Hold.Status.PENDING:
        raise Conflict(
            Code.HOLD_NOT_PENDING,
            f"hold {hold.reference_kind}:{hold.reference_id} is already {hold.status}.",
        )
    return hold


def _pending_hold_locked(hold: Hold) -> Hold:
    return _require_pending(Hold.objects.select_for_update().get(pk=hold.pk))


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
        request = HoldRequest(asset, amount, reference_kind, reference_id, metadata)
        (hold,) = holds_create_new(user=user, requests=[request])
        if isinstance(hold, ApplicationError):
            raise hold
        return hold
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
        locked = _pending_hold_locked(hold)
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
        locked = _pending_hold_locked(hold)
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
    (a market buy's budget), or at most `maximum` of it when that is set (a
    market buy by quantity: its bound); less than `minimum` left does not fit. The
    `reference_id` may be filled in after `add` and before `write` (a caller
    whose owners get their ids only when inserted)."""

    asset: Asset
    amount: int | None
    reference_kind: str
    reference_id: str = ""
    metadata: dict | None = field(default_factory=dict)  # None: as {} (`add`)
    minimum: int = 1
    maximum: int | None = None  # with amount=None: hold at most this much


class NewHolds:
    """New holds of one user (their references new, like `hold_create`'s
    `new_reference=True`), judged one at a time in the order they are added,
    each against what the ones before it left of the locked balances (the
    posting path's `_Balances`), then written together by `write`: the holds,
    their journals (`hold:<reference_kind>:<reference_id>`), both entries of
    each (held leg first, as the posting path writes them) and the balance
    moves. Made by `holds_lock_new`, inside the caller's transaction."""

    def __init__(
        self,
        user: User,
        assets: dict[int, Asset],
        accounts: list[Account],
        alerts: bool = True,
    ):
        self.user = user
        self._without_alerts = frozenset() if alerts else frozenset((user.pk,))
        self._assets = assets
        self._available: dict[int, Account] = {}
        self._held: dict[int, Account] = {}
        for account in accounts:
            account.asset = assets[account.asset_id]  # the balance event names it
            if account.kind == Account.Kind.AVAILABLE:
                self._available[account.asset_id] = account
            else:
                self._held[account.asset_id] = account
        self._balances = _Balances({account.pk: account for account in accounts})
        self._holds: list[Hold] = []
        self._metadata: list[dict] = []
        self._entries: list[queries.HoldEntry] = []
        self._written = False

    def add(self, request: HoldRequest) -> Hold | ApplicationError:
        """The new hold (written by `write`), or why it does not fit: 422
        `insufficient_funds` (with the balance left at this point), 400
        `invalid_amount`, `balance_overflow`. Nothing is raised for a refusal
        and nothing changes; the next request is judged as if this one had not
        been asked."""
        if self._written:
            raise RuntimeError("these holds are already written")
        asset = self._assets.get(request.asset.pk)
        if asset is None:
            raise ValueError(f"asset {request.asset.pk} was not locked")
        available = self._available.get(asset.pk)
        left = 0 if available is None else self._balances.current[available.pk]
        amount = request.amount
        if amount is None:
            amount = left if request.maximum is None else min(left, request.maximum)
            if amount < max(request.minimum, 1):
                amount = max(request.minimum, 1)
        elif not _is_int(amount) or not 0 < amount <= MAX_UNITS:
            return ApplicationError(Code.INVALID_AMOUNT, "amount: must be > 0 units.")
        if available is None or left < amount:  # no account: nothing available
            return _insufficient(asset, Account.Kind.AVAILABLE, left, amount)
        held = self._held[asset.pk]
        lines = [
            (held.pk, asset.pk, amount),
            (available.pk, asset.pk, -amount),
        ]
        try:
            afters = self._balances.move(lines)
        except ApplicationError as refusal:
            return refusal
        now = timezone.now()
        hold = Hold(
            user=self.user,
            asset=asset,
            held_account=held,
            available_account=available,
            reference_kind=request.reference_kind,
            reference_id=str(request.reference_id),
            amount=amount,
            remaining_amount=amount,
            created_at=now,
            updated_at=now,
        )
        index = len(self._holds)
        self._entries += [
            (index, account_id, amount, after)
            for (account_id, _, amount), after in zip(lines, afters, strict=True)
        ]
        self._holds.append(hold)
        self._metadata.append(request.metadata or {})
        return hold

    def write(self) -> list[Hold]:
        """Write every hold `add` accepted, in as few statements as the
        database allows (one on PostgreSQL), then record one `BalancesChanged`
        with the accounts that moved."""
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
        with self._balances.written(self._without_alerts) as deltas:
            queries.new_holds_insert(
                holds=holds,
                metadata=self._metadata,
                entries=self._entries,
                deltas=deltas,
                now=timezone.now(),
            )
        return holds


def holds_lock_new(
    *,
    user: User,
    assets: Sequence[Asset],
    locked: list[Account] | None = None,
    alerts: bool = True,
) -> NewHolds:
    """Lock the user's available and held accounts of `assets` (one statement,
    in pk order, as every posting does) for new holds to be judged with
    `NewHolds.add` and written with `NewHolds.write`. With no available account
    nothing fits, so none is made; a held account missing beside an available
    one is made here (first use), then locked. In the caller's transaction.
    `locked`: those accounts as the caller already locked them in this
    transaction, by `queries.user_accounts_lock_sql` inside a statement of its
    own (order placement), so they are not read again. `alerts=False`: the
    caller read, in this transaction and under the user's row lock, that the
    user has no balance alert (`queries.has_alerts_sql`), so the holds'
    `BalancesChanged` spares the alerts' statement."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("new holds belong to the caller's transaction")
    by_id = {asset.pk: asset for asset in assets}
    accounts = (
        locked
        if locked is not None
        else queries.user_accounts_locked(user_id=user.pk, asset_ids=list(by_id))
    )
    kinds: dict[int, set[str]] = {}
    for account in accounts:
        kinds.setdefault(account.asset_id, set()).add(account.kind)
    if unpaired := sorted(pk for pk, have in kinds.items() if len(have) < 2):
        for asset_id in unpaired:
            user_accounts_ensure(user=user, asset=by_id[asset_id])
        accounts = queries.user_accounts_locked(user_id=user.pk, asset_ids=list(by_id))
    return NewHolds(user, by_id, accounts, alerts)


def holds_create_new(
    *, user: User, requests: Sequence[HoldRequest]
) -> list[Hold | ApplicationError]:
    """Many new holds of one user in one go, each judged against the balances
    the ones before it left, written together. Returns, per request, its hold
    or its refusal (`NewHolds.add`); refusals write nothing. A caller whose
    later requests depend on whether earlier ones fit (order placement:
    open-order limit, client order ids) uses `holds_lock_new` and `NewHolds`
    directly."""
    holds = holds_lock_new(
        user=user, assets=list({r.asset.pk: r.asset for r in requests}.values())
    )
    results = [holds.add(request) for request in requests]
    holds.write()
    return results
