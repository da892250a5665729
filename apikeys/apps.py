from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    name = "apikeys"
    verbose_name = "API keys"

    def ready(self) -> None:
        from accounts.services.sessions import sign_in_kind_register
        from apikeys import (
            checks,  # noqa: F401  (registers the system check)
            schema,  # noqa: F401  (registers the OpenAPI extension)
        )
        from apikeys.selectors import api_key_stream_live

        # A stream ticket made with a key is bound to "apikey:<key_id>": accounts
        # asks us whether that key still stands when the ticket is redeemed.
        sign_in_kind_register(prefix="apikey:", live=api_key_stream_live)
