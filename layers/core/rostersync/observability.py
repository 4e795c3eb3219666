"""Logging and metrics for the whole domain, and the guard that keeps SIS secrets
out of every log line.

Use the shared objects: `from rostersync.observability import logger, metrics`.
No X-Ray SDK: nothing is traced inside the functions, so the layer does not carry it (and the
second copy of botocore it brings).

Secret redaction works in two layers, because a secret can reach a log record from any
library (botocore logs request bodies at DEBUG, OAuth libraries log what they sign):
- every log record created in this process, by any logger, passes through a record factory
  that replaces each registered secret in its message (and pre-formats a traceback that
  would show one), so every handler (Powertools', pytest's, Lambda's) sees the clean text;
- the Powertools JSON formatter redacts the finished line as well, which also covers
  `extra=` fields and tracebacks formatted later.
`rostersync.secrets` registers each secret it reads or writes, and the connection route
registers the secret in a request body before anything else touches it.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

SERVICE = "rostersync"
NAMESPACE = "RosterSync"
REDACTED = "[redacted]"

_registered: set[str] = set()
_lock = threading.Lock()


# Shorter values are not secrets anyone issues, and redacting them (a "0", an "e") would wreck
# every log line; the API refuses client secrets shorter than this.
MIN_SECRET_CHARS = 8


def register_secret(value: str | None) -> None:
    """From now on, `value` never appears in a log record of this process."""
    if not isinstance(value, str) or len(value) < MIN_SECRET_CHARS:
        return
    forms = {value, json.dumps(value)[1:-1]}  # as typed, and as it looks inside a JSON log line
    with _lock:
        _registered.update(form for form in forms if form)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by [redacted]."""
    if not _registered or not isinstance(text, str):
        return text
    # Longest first: a secret that contains another one is replaced whole.
    for secret in sorted(_registered, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed %-format: logging reports it later, as it always does
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        formatted = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        clean = redact(formatted)
        if clean != formatted:
            record.exc_text = clean  # logging.Formatter prints exc_text instead of re-formatting
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


_previous_factory = logging.getLogRecordFactory()


def _redacting_record_factory(*args, **kwargs) -> logging.LogRecord:
    record = _previous_factory(*args, **kwargs)
    if _registered:
        _redact_record(record)
    return record


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with registered secrets redacted from the finished line."""

    def format(self, record: logging.LogRecord) -> str:  # noqa: A003
        return redact(super().format(record))


logging.setLogRecordFactory(_redacting_record_factory)

logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def flush_metrics() -> None:
    """Publish what was recorded (EMF lines on stdout); silent when nothing was."""
    if metrics.metric_set:
        metrics.flush_metrics()
