"""Arrays packed in PostgreSQL's binary format (config/pgarrays.py) read back as
the values they were packed from, NULLs, extremes and non-ASCII included."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from config import pgarrays

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

CASES = [
    ("bigint", [0, 1, -1, 2**63 - 1, -(2**63), 1234567890123]),
    ("integer", [0, 7, -(2**31), 2**31 - 1]),
    ("smallint", [0, -5, 32767]),
    ("boolean", [True, False, True]),
    ("text", ["", "a", 'quote " and \\ backslash', "naïve ✓ €", "x" * 5000]),
    ("varchar(16)", ["order", "balance"]),
    (
        "timestamp with time zone",
        [
            datetime(2026, 12, 6, 15, 45, 16, 123456, tzinfo=UTC),
            datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        ],
    ),
    # (JSON null is SQL NULL here, as the JSONField stores a None)
    ("jsonb", [{"a": [1, "b", None, True]}, [], {"naïve": "✓"}, 3, "s"]),
]


def _read_back(values, db_type):
    connection.ensure_connection()
    pgarrays.ready(connection.connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT %s::{db_type}[]",  # noqa: S608 (the test's own type names)
            [pgarrays.pack_array(values, db_type)],
        )
        found = cursor.fetchone()[0]
    if db_type == "jsonb":  # Django reads jsonb as its text, and decodes it itself
        found = [None if text is None else json.loads(text) for text in found]
    return found


@pytest.mark.parametrize(("db_type", "values"), CASES)
def test_a_packed_array_reads_back_as_its_values(db_type, values):
    assert _read_back(values, db_type) == values


@pytest.mark.parametrize(("db_type", "values"), CASES)
def test_nulls_among_the_values_stay_nulls(db_type, values):
    with_nulls = [None, *values, None]
    assert _read_back(with_nulls, db_type) == with_nulls


def test_every_type_the_bulk_writers_meet_is_packable_or_left_to_psycopg():
    assert pgarrays.can_pack("varchar(32)")
    assert pgarrays.can_pack("timestamp with time zone")
    assert not pgarrays.can_pack("numeric(20, 8)")  # a plain list, dumped by psycopg


def test_a_naive_timestamp_is_refused():
    with pytest.raises(ValueError, match="aware"):
        pgarrays.pack_array([datetime(2026, 1, 1)], "timestamp with time zone")


def test_a_packed_array_is_logged_with_its_values():
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        _read_back([5, None, 7], "bigint")
        _read_back([{"k": "v"}], "jsonb")
    assert "{5,NULL,7}" in queries.captured_queries[0]["sql"]
    assert "k" in queries.captured_queries[1]["sql"]
