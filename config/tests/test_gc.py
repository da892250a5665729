"""Long-lived processes keep their start-up objects out of the cyclic collector
and collect young objects less often (config/memory.py)."""

import gc
import os
import subprocess
import sys

import pytest
from django.conf import settings

from config.memory import LONG_LIVED_GC_THRESHOLD


@pytest.fixture
def threshold_kept():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's default
    yield
    gc.set_threshold(*before)


def test_the_asgi_module_tunes_the_collector():
    """In a process of its own, as a server imports it (this one imported it
    when the tests were collected)."""
    probe = (
        "import gc, config.asgi;"
        "print(gc.get_freeze_count() > 10_000, tuple(gc.get_threshold()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        cwd=settings.BASE_DIR,
        timeout=120,
    )
    assert result.stdout.strip().splitlines()[-1] == f"True {LONG_LIVED_GC_THRESHOLD}"


@pytest.mark.parametrize("signal", ["worker_ready", "worker_process_init"])
def test_a_worker_tunes_the_collector_when_ready(threshold_kept, signal):
    from celery import signals

    import config.celery  # noqa: F401  (connects the handler)

    getattr(signals, signal).send(sender=None)
    assert gc.get_threshold() == LONG_LIVED_GC_THRESHOLD
    assert gc.get_freeze_count() > 10_000
