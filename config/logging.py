"""Structured logs: structlog over the standard library's logging.

Django, Celery, uvicorn and every library log through the stdlib `logging`; our
own code may use either `logging.getLogger(__name__)` or `structlog.get_logger()`.
Both end in one `ProcessorFormatter`, so every line gets the same fields and goes
through the same redaction:

- `timestamp` (UTC, ISO 8601), `level`, `logger`, `event` (the message);
- the context bound in this thread or task (contextvars): `request_id` (the
  request middleware, config/request_id.py; Celery tasks, config/celery.py),
  `user_id` (read from the current request once authenticated, or bound by a
  task), `instrument_id`, `order_id` (the matcher, the order services),
  `task`/`task_id` (Celery);
- then every value is scrubbed (`redact`): passwords, tokens, secrets, card
  numbers and document numbers never leave the process.

`LOG_FORMAT=json` (production's default) renders one JSON object a line;
`console` (elsewhere) readable `key=value` lines. docs/observability.md.
"""

from __future__ import annotations

import logging
import logging.config
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog
from structlog.contextvars import (
    bind_contextvars,
    bound_contextvars,
    get_contextvars,
)
from structlog.typing import EventDict, WrappedLogger

REDACTED = "[redacted]"

# The HttpRequest being served by this thread (set by config/request_id.py): its
# user is read only once something else (a middleware, DRF) authenticated it.
current_request: ContextVar[Any] = ContextVar("current_request", default=None)

# --- Redaction ---------------------------------------------------------------------

# A key naming one of these (anywhere in it, any case) has its value replaced.
SENSITIVE_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "ticket",
    "signature",
    "csrf",
    "sessionid",
    "otp",
    "id_number",
    "document_number",
    "card_number",
    "account_number",
    "iban",
)
# Keys that are sensitive only as a whole word (as parts they would hit "company",
# "accessible", ...).
SENSITIVE_KEYS = frozenset(
    {"pan", "access", "refresh", "code", "key", "number", "cvv", "cvc", "pin"}
)

_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
# name=value (query strings, form bodies, "k=v" text) and "name": "value" (JSON,
# reprs): the value goes when the name is a sensitive key (`is_sensitive_key`).
_PAIR = re.compile(
    r"(?<![\w])([A-Za-z][\w-]*)(=|\"?\s*:\s*\"?|'\s*:\s*')([^&\s\"',;}]+)"
)
# An Indian Permanent Account Number (KYC's `pan` identity number).
_INDIAN_PAN = re.compile(r"\b[A-Z]{5}[0-9]{4}[A-Z]\b")
# 13 to 19 digits, spaces or dashes between: a card number if its Luhn sum is right.
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return "[redacted-pan]" if _luhn_ok(digits) else match.group(0)


def _pair(match: re.Match[str]) -> str:
    if is_sensitive_key(match.group(1)):
        return f"{match.group(1)}{match.group(2)}{REDACTED}"
    return match.group(0)


def scrub(text: str) -> str:
    """`text` with every secret-looking value replaced. Each pattern runs only
    when a cheap test says it could match (most lines skip them all)."""
    if not text:
        return text
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    lower = text.lower()
    if "bearer" in lower or "basic" in lower:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    if ("=" in text or ":" in text) and _KEY_WORDS.search(lower):
        text = _PAIR.sub(_pair, text)
    if any(char.isdigit() for char in text):
        if any(char.isupper() for char in text):
            text = _INDIAN_PAN.sub(REDACTED, text)
        text = _CARD.sub(_card, text)
    return text


# what a sensitive key contains, lower case (the cheap test before _PAIR)
_KEY_WORDS = re.compile("|".join((*SENSITIVE_KEY_PARTS, *sorted(SENSITIVE_KEYS))))


def is_sensitive_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    name = key.lower()
    return name in SENSITIVE_KEYS or any(part in name for part in SENSITIVE_KEY_PARTS)


def _redact_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if depth > 4:
        return value
    if isinstance(value, Mapping):
        return {
            k: REDACTED if is_sensitive_key(k) else _redact_value(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_value(v, depth + 1) for v in value)
    return value


def redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Processor: sensitive keys lose their values, and every string (the message,
    a formatted exception) is scrubbed of tokens, secrets, card and PAN numbers."""
    for key, value in event_dict.items():
        if is_sensitive_key(key):
            event_dict[key] = REDACTED
        elif isinstance(value, (str, Mapping, list, tuple)):
            event_dict[key] = _redact_value(value)
    return event_dict


# --- Context -----------------------------------------------------------------------


def current_user_id() -> int | None:
    """The user the current work is for: bound (a task), or the current request's
    once it was authenticated (never authenticates it here)."""
    bound = get_contextvars().get("user_id")
    if bound is not None:
        return int(bound)
    request = current_request.get()
    if request is None:
        return None
    user = request.__dict__.get("user")  # DRF sets it; the session's is lazy
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)  # SimpleLazyObject: only if evaluated
    if wrapped is None or not hasattr(wrapped, "is_authenticated"):
        return None
    return wrapped.pk if wrapped.is_authenticated else None


def add_user_id(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    if "user_id" not in event_dict and current_request.get() is not None:
        user_id = current_user_id()
        if user_id is not None:
            event_dict["user_id"] = user_id
    return event_dict


def current_request_id() -> str | None:
    value = get_contextvars().get("request_id")
    return str(value) if value else None


# True while a request (config/request_id.py) or a worker's task (config/celery.py)
# is served: what `log_bind` binds is cleared at its end.
work_scope: ContextVar[bool] = ContextVar("log_work_scope", default=False)


def log_bind(**values: Any) -> None:
    """Bind `values` to the log lines written from here to the end of the
    request or task, which clears them. Outside both (a management command's
    loop) nothing is bound: nothing would clear it."""
    if work_scope.get():
        bind_contextvars(**values)


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Bind `values` (ids: order_id, instrument_id, ...) to every log line written
    inside the block, in this thread or task only. Costs a dict copy."""
    with bound_contextvars(**values):
        yield


# --- Configuration ------------------------------------------------------------------

# Before the formatter: what both structlog's and the stdlib's records get.
SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    add_user_id,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _renderer(fmt: str) -> Any:
    if fmt == "json":
        return structlog.processors.JSONRenderer(sort_keys=False)
    return structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.plain_traceback
    )


def formatter(fmt: str = "console") -> logging.Formatter:
    """The formatter of every handler: structlog's, over stdlib records too
    (`fmt`: "json" or "console")."""
    if fmt not in ("json", "console"):
        raise ValueError(f"LOG_FORMAT: {fmt!r} is not one of json, console.")
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            _renderer(fmt),
        ],
    )


class QueryStringFilter(logging.Filter):
    """For the ASGI server's loggers (uvicorn's access log, its WebSocket lines):
    every path argument loses its query string, whatever its parameters are
    called (a token or a ticket in a URL never reaches a log line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(
            isinstance(arg, str) and arg.startswith("/") and "?" in arg for arg in args
        ):
            record.args = tuple(
                arg.split("?", 1)[0]
                if isinstance(arg, str) and arg.startswith("/")
                else arg
                for arg in args
            )
        return True


def logging_config(*, fmt: str = "console", level: str = "INFO") -> dict[str, Any]:
    """The LOGGING setting: every line to stderr through `formatter(fmt)`; the
    ASGI server's lines without query strings."""
    formatter(fmt)  # refuses an unknown format at start-up
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"no_query_string": {"()": "config.logging.QueryStringFilter"}},
        "formatters": {"structured": {"()": "config.logging.formatter", "fmt": fmt}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "structured"},
            "server": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "filters": ["no_query_string"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "axes": {"level": "WARNING"},
            # uvicorn configures its loggers before Django starts; here they are
            # put on our formatter, and lose query strings. (uvicorn.error and
            # uvicorn.access propagate to "uvicorn" or have their own handler.)
            "uvicorn": {"handlers": ["server"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {
                "handlers": ["server"],
                "level": level,
                "propagate": False,
            },
            "daphne": {"handlers": ["server"], "level": level, "propagate": False},
        },
    }


def configure(config: dict[str, Any]) -> None:
    """Django's LOGGING_CONFIG: structlog first, then the stdlib from LOGGING."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    if config:
        logging.config.dictConfig(config)
