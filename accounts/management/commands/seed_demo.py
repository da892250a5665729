"""`manage.py seed_demo`: idempotent demo data for the embedded mode."""

from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.roles import sync_role_permissions

# Each app that has demo data adds its `seed(out=...)` here, in dependency order.
SEEDERS = (
    "accounts.seed",
    "kyc.seed",
    "wallet.seed",
    "trading.seed",
    "marketdata.seed",
    "calendars.seed",  # after the history: the demo shares' trades predate it
    "reports.seed",
)


class Command(BaseCommand):
    help = "Create demo users, assets, instruments and funds (safe to run again)."

    def handle(self, *args, **options):
        with transaction.atomic():
            sync_role_permissions()
            for dotted in SEEDERS:
                import_module(dotted).seed(out=self.stdout.write)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
