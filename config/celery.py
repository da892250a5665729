"""The Celery app. Tasks live in each app's tasks.py and take ids, never objects."""

import gc
import os

from celery import Celery
from celery.signals import worker_process_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("exchange")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The matching worker allocates a few objects per command and keeps its books
# for the process's life (docs/engine.md, "Garbage collector advice"): what was
# loaded at start-up is frozen out of every later collection, and young
# collections run every 50,000 allocations instead of 700.
WORKER_GC_THRESHOLD = (50_000, 20, 100)


@worker_ready.connect  # the worker's own process (the solo pool runs tasks there)
@worker_process_init.connect  # each child of a prefork pool, once started
def worker_gc_tune(**kwargs) -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*WORKER_GC_THRESHOLD)
