"""Project-wide test setup.

Tests marked `postgres` need real row locks and concurrency. On SQLite they are
skipped, unless REQUIRE_POSTGRES=1 (CI), where running them on anything but
PostgreSQL is an error rather than a silent skip.
"""

import os

import pytest
from django.conf import settings


def _on_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def pytest_collection_modifyitems(config, items):
    marked = [item for item in items if item.get_closest_marker("postgres")]
    if not marked or _on_postgres():
        return
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        raise pytest.UsageError(
            f"REQUIRE_POSTGRES=1 but the database is not PostgreSQL; "
            f"{len(marked)} postgres tests would be skipped."
        )
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in marked:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle and lockout counters must not leak between tests, nor the
    per-process copies of rows (the matcher's ledger accounts, the balance
    events' assets): a rolled-back test's ids are gone, and reused."""
    from django.core.cache import cache

    from marketdata import services as marketdata_services
    from trading.services import matching

    def clear() -> None:
        cache.clear()
        matching._ACCOUNTS.clear()
        matching._BOOKS.clear()
        matching._ORDERS.clear()
        marketdata_services._ASSETS.clear()

    clear()
    yield
    clear()
