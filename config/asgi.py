"""HTTP and WebSocket entry point (Channels)."""

import os

from config.threads import sync_chain_asgi_application
from config.tracing import tracing_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# before Django loads its middleware: the tracing middleware goes first
tracing_init(service_name="exchange-web")
# the middleware chain and the view in one request thread (config/threads.py)
django_asgi_app = sync_chain_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from config.memory import gc_tune_long_lived  # noqa: E402
from config.middleware import ASGIBodyLimit  # noqa: E402
from config.request_id import ASGIRequestId  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from config.threads import ReusedRequestThreads  # noqa: E402
from marketdata.auth import BrowserOriginValidator  # noqa: E402

# Browser sockets must come from one of ALLOWED_HOSTS (see BrowserOriginValidator).
# Routes that need the signed-in user wrap themselves in AuthMiddlewareStack (see
# marketdata/routing.py): its session wrapper runs on every frame sent.
application = ProtocolTypeRouter(
    {
        # The request's id first (config/request_id.py); bodies over their
        # route's limit refused before anything reads them; then request threads
        # from a pool, a few at a time (config/threads.py).
        "http": ASGIRequestId(
            ASGIBodyLimit(
                ReusedRequestThreads(
                    django_asgi_app, limit=settings.ASGI_REQUEST_THREADS
                )
            )
        ),
        "websocket": ASGIRequestId(
            BrowserOriginValidator(URLRouter(websocket_urlpatterns))
        ),
    }
)

# Everything imported so far lives as long as the process (config/memory.py).
gc_tune_long_lived()
