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
Two kinds of registration, so no caller can grow a process-wide list:
- `register_secret`: secrets Roster Sync stores and reads (`rostersync.sis_secrets`, after a write
  succeeded and on every read). The process keeps the most recent MAX_REMEMBERED_SECRETS of them:
  a container serves many districts over its life, but only a few at a time.
- `redaction_scope()` + `register_request_secret`: a secret that came in a request body is
  redacted only while that request is handled (the API handler opens the scope). A request that
  fails validation or its connection test leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections import Counter, OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

SERVICE = "rostersync"
NAMESPACE = "RosterSync"
REDACTED = "[redacted]"

# Each secret in the forms it may take in a log line; oldest first (bounded, see above).
_remembered: OrderedDict[str, tuple[str, ...]] = OrderedDict()
# Secrets of the requests being handled now: form -> how many open scopes hold it.
_scoped: Counter[str] = Counter()
_current_scope: ContextVar[list[str] | None] = ContextVar("rostersync_redaction_scope", default=None)
_lock = threading.Lock()
_longest_first: tuple[str, ...] = ()  # every form, longest first (recomputed on change)

MAX_REMEMBERED_SECRETS = 64

# Shorter values are not secrets anyone issues, and redacting them (a "0", an "e") would wreck
# every log line; the API refuses client secrets shorter than this.
MIN_SECRET_CHARS = 8


def _forms(value: str | None) -> tuple[str, ...]:
    if not isinstance(value, str) or len(value) < MIN_SECRET_CHARS:
        return ()
    # As typed, and as it looks inside a JSON log line.
    return tuple(dict.fromkeys(form for form in (value, json.dumps(value)[1:-1]) if form))


def _recompute() -> None:
    global _longest_first
    forms = {form for group in _remembered.values() for form in group} | {f for f, n in _scoped.items() if n > 0}
    # Longest first: a secret that contains another one is replaced whole.
    _longest_first = tuple(sorted(forms, key=len, reverse=True))


def register_secret(value: str | None) -> None:
    """A secret Roster Sync stored or read: redacted from every log record of this process
    (among the MAX_REMEMBERED_SECRETS most recently registered)."""
    forms = _forms(value)
    if value is None or not forms:
        return
    with _lock:
        _remembered.pop(value, None)
        _remembered[value] = forms
        while len(_remembered) > MAX_REMEMBERED_SECRETS:
            _remembered.popitem(last=False)
        _recompute()


@contextmanager
def redaction_scope() -> Iterator[None]:
    """Secrets registered with `register_request_secret` inside are forgotten at the end."""
    held: list[str] = []
    token = _current_scope.set(held)
    try:
        yield
    finally:
        _current_scope.reset(token)
        with _lock:
            for form in held:
                _scoped[form] -= 1
                if _scoped[form] <= 0:
                    del _scoped[form]
            _recompute()


def register_request_secret(value: str | None) -> None:
    """A secret in the request being handled: redacted until its `redaction_scope` ends. Outside
    any scope it is kept as `register_secret` keeps stored ones (bounded)."""
    forms = _forms(value)
    if not forms:
        return
    held = _current_scope.get()
    if held is None:
        register_secret(value)
        return
    with _lock:
        for form in forms:
            held.append(form)
            _scoped[form] += 1
        _recompute()


@contextmanager
def redacted_while(value: str | None) -> Iterator[None]:
    """`value` redacted for the duration of the block only."""
    with redaction_scope():
        register_request_secret(value)
        yield


def registered_count() -> int:
    """How many secret forms are redacted now (for tests and health checks)."""
    return len(_longest_first)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by [redacted]."""
    secrets = _longest_first
    if not secrets or not isinstance(text, str):
        return text
    for secret in secrets:
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
    if _longest_first:
        _redact_record(record)
    return record


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON lines, with registered secrets redacted from the finished line."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


logging.setLogRecordFactory(_redacting_record_factory)

logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def flush_metrics() -> None:
    """Publish what was recorded (EMF lines on stdout); silent when nothing was."""
    if metrics.metric_set:
        metrics.flush_metrics()
