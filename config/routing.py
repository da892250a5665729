"""WebSocket routes. Apps that stream add their `websocket_urlpatterns` here."""

from marketdata.routing import websocket_urlpatterns as marketdata_ws

websocket_urlpatterns: list = [*marketdata_ws]
