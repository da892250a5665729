from django.urls import re_path

from marketdata import consumers

websocket_urlpatterns = [
    re_path(
        r"^ws/market/(?P<symbol>[A-Za-z0-9_.\-]{1,32})/$",
        consumers.MarketConsumer.as_asgi(),
    ),
    re_path(r"^ws/user/$", consumers.UserConsumer.as_asgi()),
]
