from django.apps import AppConfig


class MarketDataConfig(AppConfig):
    name = "marketdata"
    verbose_name = "Market data"

    def ready(self) -> None:
        from marketdata.services import balance_events_record
        from wallet.ledger import POSTED_HOOKS

        if balance_events_record not in POSTED_HOOKS:
            POSTED_HOOKS.append(balance_events_record)
