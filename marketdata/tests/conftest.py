import pytest
from django.conf import settings


@pytest.fixture(autouse=True)
def _fresh_layer():
    """Each test starts with an empty channel layer (Redis: DB from REDIS_URL)."""
    yield
    from channels.layers import channel_layers

    if "InMemory" in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
        channel_layers.backends.pop("default", None)
