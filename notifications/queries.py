"""The SQL the notification pipeline needs on the matcher's hot path.

`rows_insert_new` writes many rows in one statement per chunk and hands back
the ids of the rows it inserted, skipping those whose unique key already
exists (`ON CONFLICT DO NOTHING ... RETURNING`: PostgreSQL, and SQLite 3.35+
for the embedded mode). Django's `bulk_create(ignore_conflicts=True)` returns
no ids, and the deliveries and the stream events need them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django.db import connection, models

_CHUNK = 400  # rows per statement (SQLite binds at most 32766 parameters)


def rows_insert_new(
    model: type[models.Model],
    rows: Sequence[models.Model],
    *,
    fields: Sequence[str],
    returning: Sequence[str],
) -> list[tuple]:
    """Insert `rows` (their `fields`), skipping conflicts; `returning` columns
    of the inserted ones, in no promised order."""
    if not rows:
        return []
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [cast(models.Field, meta.get_field(name)) for name in fields]
    names = ", ".join(quote(cast(str, field.column)) for field in columns)
    back = ", ".join(
        quote(cast(str, cast(models.Field, meta.get_field(name)).column))
        for name in returning
    )
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    found: list[tuple] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            params: list = []
            for row in chunk:
                for field in columns:
                    value = getattr(row, field.attname)
                    params.append(field.get_db_prep_save(value, connection))
            cursor.execute(
                # identifiers from the model's meta, values bound
                f"INSERT INTO {quote(meta.db_table)} ({names}) "  # noqa: S608
                f"VALUES {', '.join([one] * len(chunk))} "
                f"ON CONFLICT DO NOTHING RETURNING {back}",
                params,
            )
            found.extend(cursor.fetchall())
    return found
