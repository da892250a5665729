"""WebSocket routes. The market stream is public and needs no session: only the
user stream goes through AuthMiddlewareStack (sessions for browser pages; API
clients send a JWT), whose session wrapper would otherwise run on every frame
of every market subscriber."""

from channels.auth import AuthMiddlewareStack
from django.urls import re_path

from marketdata import consumers

websocket_urlpatterns = [
    re_path(
        r"^ws/market/(?P<symbol>[A-Za-z0-9_.\-]{1,32})/$",
        consumers.MarketConsumer.as_asgi(),
    ),
    re_path(r"^ws/user/$", AuthMiddlewareStack(consumers.UserConsumer.as_asgi())),
]
