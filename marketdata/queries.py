"""The SQL marketdata's services run on every matching batch, written once here
(the services say what to write; this says how, in one statement each)."""

from __future__ import annotations

from django.db import connection

from config.bulk import column_in
from marketdata import messages
from marketdata.models import BookSnapshot
from wallet.models import Account

INDICATIVE_FIELDS = (
    "indicative_price",
    "indicative_lots",
    "indicative_surplus",
    "indicative_surplus_side",
)
_SNAPSHOT_FIELDS = ("seq", "bids", "asks", *INDICATIVE_FIELDS, "updated_at")


def book_snapshot_upsert(row: BookSnapshot) -> None:
    """Insert or replace the instrument's one snapshot row: on PostgreSQL one
    statement in SQL (every batch that moved the book runs it), elsewhere the
    ORM's upsert."""
    if connection.vendor != "postgresql":
        BookSnapshot.objects.bulk_create(
            [row],
            update_conflicts=True,
            unique_fields=["instrument"],
            update_fields=list(_SNAPSHOT_FIELDS),
        )
        return
    updates = ", ".join(f"{field} = EXCLUDED.{field}" for field in _SNAPSHOT_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(
            # the model's table and fields, values bound
            f"INSERT INTO {BookSnapshot._meta.db_table}"  # noqa: S608
            f" (instrument_id, {', '.join(_SNAPSHOT_FIELDS)})"
            " VALUES (%s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s, %s)"
            f" ON CONFLICT (instrument_id) DO UPDATE SET {updates}",
            [
                row.instrument_id,
                row.seq,
                messages.dumps(row.bids),
                messages.dumps(row.asks),
                row.indicative_price,
                row.indicative_lots,
                row.indicative_surplus,
                row.indicative_surplus_side,
                row.updated_at,
            ],
        )


def user_balances(pairs: set[tuple[int, int]], kinds: tuple[str, ...]) -> list[tuple]:
    """(owner, asset, kind, balance) of the accounts of these kinds of these
    (owner, asset) pairs, and perhaps of a few other pairs of the same owners and
    assets. In SQL: every matching batch with trades runs it."""
    owners, owner_params = column_in("owner_id", sorted({o for o, _ in pairs}))
    assets, asset_params = column_in("asset_id", sorted({a for _, a in pairs}))
    marks = ", ".join(["%s"] * len(kinds))
    with connection.cursor() as cursor:
        cursor.execute(
            # the model's table, values bound
            "SELECT owner_id, asset_id, kind, balance"  # noqa: S608
            f" FROM {Account._meta.db_table} WHERE {owners} AND {assets}"
            f" AND kind IN ({marks})",
            [*owner_params, *asset_params, *kinds],
        )
        return cursor.fetchall()
