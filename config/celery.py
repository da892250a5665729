"""The Celery app. Tasks live in each app's tasks.py and take ids, never objects."""

import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready

from config.memory import gc_tune_long_lived

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("exchange")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect  # the worker's own process (the solo pool runs tasks there)
@worker_process_init.connect  # each child of a prefork pool, once started
def worker_gc_tune(**kwargs) -> None:
    """The books and everything loaded at start-up live as long as the worker
    (config/memory.py)."""
    gc_tune_long_lived()
