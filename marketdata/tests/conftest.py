import pytest
from asgiref.sync import SyncToAsync
from django.db import connections


@pytest.fixture(autouse=True)
def _fresh_connections():
    """The database connection that `database_sync_to_async` opened in its worker
    thread is closed (else PostgreSQL cannot drop the test database at the end).
    The channel layers are renewed by the root conftest."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
