"""Every log line of the process, as the configured formatter writes it, for tests."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from config.logging import formatter


@dataclass
class Captured:
    stream: io.StringIO = field(default_factory=io.StringIO)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line]


@contextmanager
def capture_logs(level: int = logging.DEBUG) -> Iterator[Captured]:
    """Every logger at `level` (DEBUG: all of them, the chatty libraries too),
    written as JSON lines through the project's formatter (redaction included)
    to one buffer; the ASGI server's loggers through their own handlers too."""
    captured = Captured()
    handler = logging.StreamHandler(captured.stream)
    handler.setFormatter(formatter("json"))
    handler.setLevel(level)
    manager = logging.Logger.manager
    loggers = [logging.getLogger()] + [
        logger
        for logger in list(manager.loggerDict.values())
        if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    root = logging.getLogger()
    for logger in loggers:
        logger.setLevel(level)
        logger.disabled = False
        if not logger.propagate and logger is not root:
            logger.addHandler(handler)
    root.addHandler(handler)
    try:
        yield captured
    finally:
        for logger, old_level, disabled in saved:
            logger.setLevel(old_level)
            logger.disabled = disabled
            if handler in logger.handlers:
                logger.removeHandler(handler)
