"""Two builds at once on PostgreSQL: they take the watermark's lock in turn."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from reports.models import DailyTrading, ReportWatermark
from reports.services import reports_build
from reports.tests.conftest import DAY1, DAY2, at

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_first_builds_at_once_write_the_rows_once(activity):
    results, errors = [], []
    barrier = threading.Barrier(2)

    def build():
        try:
            barrier.wait()
            results.append(reports_build())
        except BaseException as error:  # noqa: BLE001 - collected for the assert
            errors.append(error)
        finally:
            connection.close()

    # given no watermark yet; when two workers run the beat task at the same time
    with at(DAY2, 18):
        threads = [threading.Thread(target=build) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    # then neither failed, one wrote the nine rows and the other, waiting for the
    # watermark's lock, found them right and wrote nothing
    assert errors == []
    assert sorted(result.rows_written for result in results) == [0, 9]
    assert ReportWatermark.objects.count() == 1
    assert list(
        DailyTrading.objects.order_by("day").values_list("day", "trade_count")
    ) == [(DAY1, 1), (DAY2, 1)]
