"""WebSocket routes. Apps that stream add their `websocket_urlpatterns` here."""

websocket_urlpatterns: list = []
