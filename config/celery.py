"""The Celery app. Tasks live in each app's tasks.py and take ids, never objects."""

import os
from collections.abc import Mapping
from contextvars import Token
from typing import Any

from celery import Celery
from celery.signals import (
    beat_init,
    before_task_publish,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_ready,
)
from structlog.contextvars import (
    bind_contextvars,
    clear_contextvars,
    get_contextvars,
    reset_contextvars,
)

from config.logging import current_user_id, work_scope
from config.memory import gc_tune_long_lived
from config.tracing import tracing_init

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


# --- Logs: Django's configuration, the request id carried into tasks ---------------


@setup_logging.connect
def logging_keep_django(**kwargs) -> None:
    """Connected, so Celery leaves logging alone: Django configured it from
    LOGGING (config/logging.py) when the worker set Django up."""


@before_task_publish.connect
def task_headers_context(headers: dict | None = None, **kwargs) -> None:
    """The sender's request id and user id travel in the task's headers."""
    if headers is None:
        return
    request_id = get_contextvars().get("request_id")
    if request_id:
        headers.setdefault("request_id", request_id)
        user_id = current_user_id()
        if user_id is not None:
            headers.setdefault("user_id", user_id)


# task id -> the context tokens bound for it (reset after the task)
_bound: dict[str, Mapping[str, Token[Any]]] = {}


def _header(request, name: str):
    value = getattr(request, name, None)
    if value is None and isinstance(getattr(request, "headers", None), dict):
        value = request.headers.get(name)
    return value


@task_prerun.connect
def task_log_context(task_id: str | None = None, task=None, **kwargs) -> None:
    """A task's log lines carry its name and id, and the request id (and user id)
    of the request that sent it. An eager task runs inside its sender and keeps
    the sender's context; a worker's starts from nothing."""
    if task is None or task_id is None:
        return
    request = task.request
    values: dict = {"task": task.name, "task_id": task_id}
    if not request.is_eager:
        clear_contextvars()
        work_scope.set(True)
        for name in ("request_id", "user_id"):
            value = _header(request, name)
            if value is not None:
                values[name] = value
    _bound[task_id] = bind_contextvars(**values)


@task_postrun.connect
def task_log_context_end(task_id: str | None = None, task=None, **kwargs) -> None:
    tokens = _bound.pop(task_id, None) if task_id else None
    if tokens is None:
        return
    if task is not None and task.request.is_eager:
        reset_contextvars(**tokens)
    else:
        clear_contextvars()
        work_scope.set(False)


# --- Traces: on in workers and beat when OTEL_EXPORTER_OTLP_ENDPOINT is set --------


@worker_init.connect
def worker_tracing(**kwargs) -> None:
    """Before the pool starts (a prefork pool's children inherit it)."""
    tracing_init(service_name="exchange-worker")


@beat_init.connect
def beat_tracing(**kwargs) -> None:
    tracing_init(service_name="exchange-beat")
