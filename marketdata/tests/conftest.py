import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import connections


@pytest.fixture(autouse=True)
def _fresh_layer_and_connections():
    """Each test starts with an empty in-memory channel layer; the database
    connection that `database_sync_to_async` opened in its worker thread is closed
    (else PostgreSQL cannot drop the test database at the end)."""
    yield
    from channels.layers import channel_layers

    if "InMemory" in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
        channel_layers.backends.pop("default", None)
        channel_layers.backends.pop("marketdata", None)
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()
