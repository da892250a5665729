"""The statement as CSV, streamed (shared by the API and the page)."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from accounts.models import User
from wallet.models import Entry
from wallet.money import format_units
from wallet.selectors import entry_description

CSV_HEADER = [
    "entry_id",
    "created_at",
    "asset",
    "account",
    "kind",
    "reference",
    "amount",
    "balance_after",
    "description",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _safe(text: str) -> str:
    # Spreadsheet formula injection: never start a cell with = + - @ from user text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def statement_rows(entries: QuerySet[Entry], *, user: User) -> Iterator[list[str]]:
    yield CSV_HEADER
    for entry in entries.iterator(chunk_size=500):
        decimals = entry.account.asset.decimals
        yield [
            str(entry.pk),
            entry.created_at.isoformat(),
            entry.account.asset.code,
            entry.account.kind,
            entry.journal.kind,
            entry.journal.reference,
            format_units(entry.amount, decimals),
            format_units(entry.balance_after, decimals),
            _safe(entry_description(entry, user=user)),
        ]


def statement_csv_response(
    entries: QuerySet[Entry], *, user: User, filename: str = "statement.csv"
) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in statement_rows(entries, user=user)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
