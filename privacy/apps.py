from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    """A user's own data: the export, and closing the account under the
    retention rules (docs/accounts.md, "Consent, export and closure"). It reads
    every app, so it sits above them all; no app imports it."""

    name = "privacy"
    verbose_name = "Privacy"
