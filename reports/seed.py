"""Demo: build the reports from the demo data, so the admin's report pages show
something on a fresh `make run` (the embedded mode runs no beat; run
`manage.py build_reports` again to bring them up to date)."""

from __future__ import annotations


def seed(*, out) -> None:
    from reports.services import reports_build

    result = reports_build()
    out(
        f"Reports built for {result.start}..{result.end}: "
        f"{result.rows_written} row(s) written."
    )
