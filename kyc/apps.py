from django.apps import AppConfig


class KycConfig(AppConfig):
    name = "kyc"
    verbose_name = "KYC"

    def ready(self) -> None:
        from kyc import checks  # noqa: F401 - registers the system checks
