"""The ledger's hand-written SQL, each statement behind a name that says what it
does. The posting service (wallet/ledger.py) decides; these only read and write
rows, in as few round trips as the database allows. Vendor differences live
here and in config/bulk.py, never in the service."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction

from config.bulk import (
    bulk_add,
    column_in,
    insert_rows,
    instance_from_row,
    model_columns,
)
from wallet.models import Account, Entry, Hold, Journal


def journals_with_keys(*, kinds: Sequence[str], references: Sequence[str]) -> list:
    """The journals whose kind is one of `kinds` and reference one of
    `references` (a probe of the unique index; the caller pairs them)."""
    kind_in, kind_params = column_in("j.kind", sorted(set(kinds)))
    reference_in, reference_params = column_in("j.reference", sorted(set(references)))
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            # names from the model, values bound
            f"SELECT {model_columns(Journal, 'j')} FROM {Journal._meta.db_table} j"  # noqa: S608
            f" WHERE {kind_in} AND {reference_in}",
            kind_params + reference_params,
        )
        rows = cursor.fetchall()
    return [instance_from_row(Journal, row) for row in rows]


def owes_sql(user_column: str) -> str:
    """An SQL condition, true while the user in `user_column` owes the platform
    (a receivable below zero, after a refund or a lost dispute of money already
    spent). The restriction rule, written once: `wallet_restricted` and order
    placement's one statement (trading/queries.py) both use it."""
    return (
        f"EXISTS (SELECT 1 FROM {Account._meta.db_table} ra"  # noqa: S608
        f" WHERE ra.owner_id = {user_column}"
        f" AND ra.kind = '{Account.Kind.RECEIVABLE.value}' AND ra.balance < 0)"
    )


def user_owes(*, user_id: int) -> bool:
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(f"SELECT {owes_sql('%s')}", [user_id])  # noqa: S608
        return bool(cursor.fetchone()[0])


# every column of Account, in its fields' order (`Account.from_db` needs it)
_ACCOUNT_COLUMNS = ("id", "owner_id", "asset_id", "kind", "balance", "created_at")


def user_accounts_locked(*, user_id: int, asset_ids: Sequence[int]) -> list[Account]:
    """The user's available and held accounts of these assets, locked in pk
    order (the order every posting locks in), in one statement: the ORM's
    compiler cost more Python than this statement's round trip."""
    if not asset_ids:
        return []
    connection = transaction.get_connection()
    asset_in, asset_params = column_in("asset_id", sorted(asset_ids))
    sql = (
        # names from the model, values as parameters
        f"SELECT {', '.join(_ACCOUNT_COLUMNS)}"  # noqa: S608
        f" FROM {Account._meta.db_table}"
        f" WHERE owner_id = %s AND {asset_in} AND kind IN (%s, %s) ORDER BY id"
    )
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    kinds = [Account.Kind.AVAILABLE.value, Account.Kind.HELD.value]
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, *asset_params, *kinds])
        rows = cursor.fetchall()
    return [Account.from_db(connection.alias, _ACCOUNT_COLUMNS, row) for row in rows]


# (hold index, account id, amount, balance after): one entry of a new hold
HoldEntry = tuple[int, int, int, int]


def new_holds_insert(
    *,
    holds: Sequence[Hold],
    metadata: Sequence[dict],
    entries: Sequence[HoldEntry],
    deltas: dict[int, int],
    now: datetime,
) -> None:
    """Write new holds with their journals (`hold:<kind>:<id>`, metadata
    `{"hold": id, ...}`), their entries in the order given and the balance
    moves, and set the holds' ids. On PostgreSQL one statement whose text does
    not depend on how many holds (arrays, unnested), so a pooled connection
    prepares it once; elsewhere a statement per table."""
    if transaction.get_connection().vendor != "postgresql":
        insert_rows(holds)
        journals = [
            Journal(
                kind=Journal.Kind.HOLD,
                reference=f"{hold.reference_kind}:{hold.reference_id}",
                created_at=now,
                metadata={"hold": hold.pk, **extra},
            )
            for hold, extra in zip(holds, metadata, strict=True)
        ]
        insert_rows(journals)
        insert_rows(
            [
                Entry(
                    journal=journals[index],
                    account_id=account_id,
                    amount=amount,
                    balance_after=after,
                    created_at=now,
                )
                for index, account_id, amount, after in entries
            ],
            returning=False,
        )
        bulk_add(Account, "balance", deltas)
        return
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
        [json.dumps(extra) for extra in metadata],
        Hold.Status.PENDING.value,
        now,
        now,
        Journal.Kind.HOLD.value,
        now,
        now,
        list(range(len(entries))),
        [references[index] for index, _, _, _ in entries],
        [account for _, account, _, _ in entries],
        [amount for _, _, amount, _ in entries],
        [after for _, _, _, after in entries],
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
