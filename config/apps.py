from django.apps import AppConfig


class PlatformConfig(AppConfig):
    """The project itself as an app: it wires the domain events' subscribers once
    every app is loaded (config/subscribers.py)."""

    name = "config"
    verbose_name = "Platform"

    def ready(self) -> None:
        from config import subscribers

        subscribers.register()
