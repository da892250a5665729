from django.apps import AppConfig


class WalletConfig(AppConfig):
    name = "wallet"

    def ready(self) -> None:
        from wallet import checks  # noqa: F401 - registers the system checks
