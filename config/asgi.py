"""HTTP and WebSocket entry point (Channels)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from marketdata.auth import BrowserOriginValidator  # noqa: E402

# Sessions (browser pages) via AuthMiddlewareStack; API clients send a JWT.
# Browser sockets must come from one of ALLOWED_HOSTS (see BrowserOriginValidator).
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": BrowserOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
