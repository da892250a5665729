"""`manage.py build_reports [--since DATE]`: build the report tables now; with
`--since`, recompute every day from DATE through today (a backfill)."""

from argparse import ArgumentTypeError
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from config.domain_errors import ApplicationError
from reports.services import reports_build


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from error


class Command(BaseCommand):
    help = "Build the report tables (incrementally, or from --since for a backfill)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", type=_day, default=None, help="First UTC day (YYYY-MM-DD)."
        )

    def handle(self, *args, since=None, **options):
        try:
            result = reports_build(since=since)
        except ApplicationError as error:
            raise CommandError(error.message) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Reports built for {result.start}..{result.end} "
                f"({result.days} day(s)), {result.rows_written} row(s) written."
            )
        )
