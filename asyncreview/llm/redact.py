"""Keeping the API key off the user's screen: our own messages, and the log records of the SDK
and its HTTP stack (ANTHROPIC_LOG=debug prints tracebacks that may quote a request header)."""

from __future__ import annotations

import logging
import re

_KEY_SHAPE = re.compile(r"sk-ant-[A-Za-z0-9_\-]{6,}")


def redact(text: str, key: str = "") -> str:
    """The key, and anything shaped like an Anthropic key, replaced by asterisks."""
    if key:
        text = text.replace(key, "***")
    return _KEY_SHAPE.sub("sk-ant-***", text)


def malformed_key(key: str) -> bool:
    """A key no HTTP header can carry: the HTTP layer's error would quote it."""
    return any(char.isspace() or not char.isprintable() for char in key)


class RedactingFilter(logging.Filter):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format is dropped, not shown raw
            return False
        record.msg, record.args = redact(message, self.key), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.key)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.key)
        return True


def redact_logs(key: str) -> None:
    """Adds the filter to every handler that exists now (the SDK installs its own at import)."""
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    handlers = {id(handler): handler for logger in loggers for handler in logger.handlers}
    if logging.lastResort is not None:
        handlers[id(logging.lastResort)] = logging.lastResort
    for handler in handlers.values():
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(RedactingFilter(key))
