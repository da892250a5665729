"""Database-vendor details of the back office, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def read_snapshot() -> Iterator[None]:
    """Run the reads inside on one consistent view of the database.

    PostgreSQL: a read-only REPEATABLE READ transaction, so checks that take
    several statements (balances, then holds, then orders) all see the same
    commit and a posting landing in between cannot look like a broken ledger.
    SQLite: no transaction (ours are IMMEDIATE and would stop every writer for
    the whole run); each statement reads a consistent WAL snapshot.
    Inside a caller's transaction the reads share that transaction.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield
