"""`manage.py verify_ledger`: prove the ledger's invariants; exit 1 naming each
problem when one fails."""

from django.core.management.base import BaseCommand, CommandError

from wallet.verification import ledger_verify


class Command(BaseCommand):
    help = "Check every ledger invariant; exits non-zero naming what is wrong."

    def handle(self, *args, **options):
        failed = 0
        for result in ledger_verify():
            if result.problems:
                failed += len(result.problems)
                self.stdout.write(self.style.ERROR(f"FAIL  {result.name}"))
                for problem in result.problems:
                    self.stdout.write(f"      - {problem}")
            else:
                self.stdout.write(self.style.SUCCESS(f"ok    {result.name}"))
        if failed:
            raise CommandError(f"ledger verification failed: {failed} problem(s)")
        self.stdout.write(self.style.SUCCESS("Ledger verified."))
