from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "trading"

    def ready(self) -> None:
        from trading.verification import check_order_holds
        from wallet.verification import register_check

        register_check("every open order's hold matches its need", check_order_holds)
