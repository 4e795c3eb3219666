"""Reading what a SIS answered: JSON or not, and what its error payloads say.

OneRoster servers report problems as imsx status info (imsx_codeMajor, imsx_CodeMinor or
imsx_codeMinor, imsx_description), at the top level or inside statusInfoSet; others send
{"error": ...}, and proxies in front of them send HTML. This module turns each into the
typed error and a one-line description an admin can act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import (
    BadResponse,
    InsufficientScope,
    InvalidCredentials,
    NotOneRoster,
    OneRosterError,
    RequestRejected,
    ServerError,
)

MAX_SERVER_TEXT = 300


class InvalidJson(Exception):
    """A 2xx body that is not valid JSON (truncated or garbled): worth a retry."""


def looks_like_html(content: bytes, content_type: str | None) -> bool:
    if content_type and "html" in content_type.lower():
        return True
    head = content[:64].lstrip().lower()
    return head.startswith(b"<!doctype") or head.startswith(b"<html") or head.startswith(b"<")


def decode_json(content: bytes) -> Any:
    if not content.strip():
        raise InvalidJson("empty body")
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidJson(type(exc).__name__) from None


@dataclass(frozen=True)
class StatusInfo:
    code_major: str
    code_minor: str | None
    severity: str | None
    description: str | None

    def describe(self) -> str:
        text = f"imsx {self.code_major}"
        if self.code_minor:
            text += f"/{self.code_minor}"
        if self.description:
            text += f": {self.description}"
        return text


def _minor_of(container: dict) -> str | None:
    for key in ("imsx_CodeMinor", "imsx_codeMinor"):
        value = container.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            # {"imsx_codeMinorField": [{"imsx_codeMinorFieldName": ..., "imsx_codeMinorFieldValue": ...}]}
            fields = value.get("imsx_codeMinorField")
            if isinstance(fields, dict):
                fields = [fields]
            if isinstance(fields, list):
                for item in fields:
                    if isinstance(item, dict) and item.get("imsx_codeMinorFieldValue"):
                        return str(item["imsx_codeMinorFieldValue"])
    return None


def status_info(body: Any) -> StatusInfo | None:
    """The imsx status info of a body, wherever the server put it, or None."""
    if not isinstance(body, dict):
        return None
    candidates: list[Any] = [body]
    for key in ("statusInfoSet", "imsx_statusInfo", "statusInfo"):
        value = body.get(key)
        if isinstance(value, list):
            candidates.extend(value)
        elif isinstance(value, dict):
            inner = value.get("imsx_statusInfo")
            candidates.extend(inner if isinstance(inner, list) else [inner] if inner else [value])
    for item in candidates:
        if isinstance(item, dict) and isinstance(item.get("imsx_codeMajor"), str):
            return StatusInfo(
                code_major=item["imsx_codeMajor"].strip().lower(),
                code_minor=_minor_of(item),
                severity=item.get("imsx_severity") if isinstance(item.get("imsx_severity"), str) else None,
                description=item.get("imsx_description") if isinstance(item.get("imsx_description"), str) else None,
            )
    return None


def plain_error(body: Any) -> str | None:
    """The message of {"error": "..."}, {"error": {"message": ...}}, {"error_description": ...}, {"message": ...}."""
    if not isinstance(body, dict):
        return None
    parts = []
    error = body.get("error")
    if isinstance(error, str):
        parts.append(error)
    elif isinstance(error, dict):
        for key in ("code", "message", "description"):
            if isinstance(error.get(key), str):
                parts.append(error[key])
    for key in ("error_description", "message", "detail"):
        if isinstance(body.get(key), str):
            parts.append(body[key])
    return ": ".join(parts) if parts else None


def describe_body(content: bytes, content_type: str | None) -> str:
    """What the server said, in one short line (to be scrubbed by the caller)."""
    if looks_like_html(content, content_type):
        return "an HTML page instead of JSON"
    try:
        body = json.loads(content) if content.strip() else None
    except (ValueError, UnicodeDecodeError):
        return "a body that is not JSON" if content.strip() else "an empty body"
    info = status_info(body)
    if info is not None:
        return info.describe()[:MAX_SERVER_TEXT]
    message = plain_error(body)
    return message[:MAX_SERVER_TEXT] if message else "no error details"


def error_for_status_info(info: StatusInfo, *, endpoint: str | None, status: int | None) -> OneRosterError | None:
    """A success/processing status is no error; failures map by their minor code."""
    if info.code_major in ("success", "processing"):
        return None
    return error_for_failure_info(info, endpoint=endpoint, status=status)


def error_for_failure_info(info: StatusInfo, *, endpoint: str | None, status: int | None) -> OneRosterError:
    """The typed error for a status info that is not a success, by its minor code."""
    minor = (info.code_minor or "").lower()
    text = f"The SIS answered with {info.describe()[:MAX_SERVER_TEXT]}."
    if info.code_major == "unsupported":
        return NotOneRoster(text, endpoint=endpoint, status=status)
    if minor in ("unauthorisedrequest", "unauthorizedrequest", "invalid_token", "invalid_client"):
        return InvalidCredentials(text, endpoint=endpoint, status=status)
    if minor in ("forbidden", "insufficient_scope"):
        return InsufficientScope(text, endpoint=endpoint, status=status)
    if minor in ("unknownobject",):
        return NotOneRoster(text, endpoint=endpoint, status=status)
    if minor.startswith("invalid_") or minor in ("invaliddata",):
        return RequestRejected(text, endpoint=endpoint, status=status)
    return ServerError(text, endpoint=endpoint, status=status)


def error_for_status(status: int, description: str, *, endpoint: str | None) -> OneRosterError:
    """The typed error for a final non-2xx answer (after retries and auth recovery)."""
    said = f" The server said: {description}." if description else ""
    if status == 401:
        return InvalidCredentials("The SIS refused the client id and secret." + said, endpoint=endpoint, status=status)
    if status == 403:
        return InsufficientScope(
            "The credentials work but may not read this; ask the SIS admin to grant the "
            "OneRoster roster read scopes." + said,
            endpoint=endpoint,
            status=status,
        )
    if status == 404:
        return NotOneRoster(
            "The host has no OneRoster 1.1 endpoint here; check the host URL and its path prefix." + said,
            endpoint=endpoint,
            status=status,
        )
    if status == 429:
        return ServerError("The SIS kept answering 'too many requests'." + said, endpoint=endpoint, status=status)
    if status >= 500 or status == 408:
        return ServerError("The SIS kept failing with a server error." + said, endpoint=endpoint, status=status)
    if 400 <= status < 500:
        return RequestRejected("The SIS rejected the request." + said, endpoint=endpoint, status=status)
    return BadResponse(
        f"The SIS answered with an unexpected HTTP status {status}." + said, endpoint=endpoint, status=status
    )
