"""Reading requests into pydantic models, answering the contract's 400 or 422 when they do not fit.

Routes call these after authorization, so the order a caller sees is 401, 403, 404 (unknown
district), then 400 (not a JSON object at all) or 422 (a JSON object with unacceptable
values). That is why bodies are not declared as Powertools `Body()` parameters: Powertools
validates those before the route (and so before authorization) runs.

- 400 `request_too_large`: a body over 64 KB.
- 400 `malformed_json`: no body, not UTF-8, not JSON (NaN, duplicate keys, nesting deep
  enough to exhaust the parser included).
- 400 `invalid_body`: JSON, but not an object.
- 422 `invalid_request`: wrong types, missing or unknown fields, bad values; the message
  names each field. Some validators raise a more precise code (see DOMAIN_CODES).
Messages never echo the submitted values (only field names), and pass through the secret
redaction guard anyway.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ValidationError

from rostersync.api.errors import ApiError, bad_request, unprocessable
from rostersync.observability import redact, register_request_secret

MAX_BODY_BYTES = 64 * 1024
MAX_LISTED_PROBLEMS = 5

# Pydantic error types raised by our own validators (PydanticCustomError) that are API error
# codes in their own right; any other validation problem is `invalid_request`.
DOMAIN_CODES = frozenset({"invalid_timezone", "invalid_date", "start_date_in_past", "invalid_email"})

# Plainer words for the problems people hit most; pydantic's own message otherwise.
_PLAIN_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "int_type": "must be a whole number",
    "float_type": "must be a number",
}


class _RejectedJson(ValueError):
    """JSON that Python's parser would accept but JSON (RFC 8259) or this API does not."""


def _reject_constant(name: str) -> Any:
    raise _RejectedJson(f"{name} is not a JSON value")


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _RejectedJson("a key appears twice in one object")
        result[key] = value
    return result


def _body_bytes(event: Mapping, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    raw = event.get("body")
    if raw is None or raw == "":
        raise bad_request("malformed_json", "Send a JSON object as the request body.")
    if not isinstance(raw, str):
        raise bad_request("malformed_json", "The request body is not valid JSON.")
    if event.get("isBase64Encoded"):
        # base64 is 4/3 of the payload: anything this long cannot decode to 64 KB or less.
        if len(raw) > (max_bytes * 4) // 3 + 4:
            raise _too_large(max_bytes)
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("malformed_json", "The request body is not valid base64-encoded JSON.") from None
    if len(raw) > max_bytes:  # characters <= bytes: a cheap early refusal
        raise _too_large(max_bytes)
    return raw.encode("utf-8", errors="surrogatepass")


def _too_large(max_bytes: int = MAX_BODY_BYTES) -> ApiError:
    return bad_request("request_too_large", f"The request body is larger than {max_bytes // 1024} KB.")


def json_object(event: Mapping, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request body as a JSON object (400 when it is not one; bulk routes allow more bytes)."""
    data = _body_bytes(event, max_bytes)
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("malformed_json", "The request body is not UTF-8 text.") from None
    try:
        parsed = json.loads(text, object_pairs_hook=_object_without_duplicate_keys, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise bad_request(
            "malformed_json", f"The request body is not valid JSON (line {error.lineno}, column {error.colno})."
        ) from None
    except _RejectedJson as error:
        raise bad_request("malformed_json", f"The request body is not valid JSON: {error}.") from None
    except (ValueError, RecursionError):  # e.g. nesting deep enough to exhaust the parser
        raise bad_request("malformed_json", "The request body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise bad_request("invalid_body", "The request body must be a JSON object ({...}).")
    return parsed


def field_name(loc: Iterable[Any]) -> str:
    """('matches', 0, 'schoolId') -> 'matches[0].schoolId'."""
    name = ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += ("." if name else "") + str(part)
    return name or "body"


def invalid(errors: Sequence[Mapping[str, Any]]) -> ApiError:
    """One 422 for pydantic-style errors: the first domain code if any, every field named."""
    code = next((e["type"] for e in errors if e.get("type") in DOMAIN_CODES), "invalid_request")
    problems = []
    for error in errors[:MAX_LISTED_PROBLEMS]:
        text = _PLAIN_MESSAGES.get(error.get("type", "")) or str(error.get("msg") or "is not acceptable")
        text = text.removeprefix("Value error, ")
        # Our own phrases continue the field's name ("startDate must be ..."); pydantic's are sentences.
        joiner = " " if text[:1].islower() else ": "
        problems.append(f"{field_name(error.get('loc', ()))}{joiner}{text}")
    more = len(errors) - MAX_LISTED_PROBLEMS
    message = "; ".join(problems) + (f"; and {more} more" if more > 0 else "") + "."
    return unprocessable(code, redact(message))


def parse[M: BaseModel](model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid(error.errors(include_url=False, include_input=False, include_context=False)) from None


def read_body[M: BaseModel](
    event: Mapping, model: type[M], *, secret_field: str | None = None, max_bytes: int = MAX_BODY_BYTES
) -> M:
    """The request body as `model`, or 400/422. `secret_field` names a field whose value is
    redacted from the logs for the rest of this request before anything else looks at the body
    (only for this request: it is remembered only once it has been tested and stored)."""
    data = json_object(event, max_bytes)
    if secret_field is not None:
        register_request_secret(data.get(secret_field) if isinstance(data.get(secret_field), str) else None)
    return parse(model, data)


def query_flag(name: str, value: str | None, default: bool = False) -> bool:
    """A true/false query parameter (?refresh=true); 422 for anything else. Routes declare
    the parameter as a plain string (so Powertools documents it and never refuses it before
    authorization) and read it with this."""
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise unprocessable("invalid_request", f"{name} must be true or false.")


_ASCII_DIGITS = frozenset("0123456789")


def query_limit(value: str | None, default: int, maximum: int) -> int:
    """?limit= for every paged route: ASCII digits only, 1..maximum; 422 otherwise.
    (str.isdigit accepts "²" and "٣", which int() then refuses or reads; neither is a limit.)"""
    if value is None or value == "":
        return default
    if len(value) > len(str(maximum)) + 3 or not set(value) <= _ASCII_DIGITS or not 1 <= int(value) <= maximum:
        raise unprocessable("invalid_request", f"limit must be a whole number from 1 to {maximum}.")
    return int(value)


def respond(model: BaseModel, status: int = 200) -> Response:
    """`model` as camelCase JSON."""
    return Response(status_code=status, content_type="application/json", body=model.model_dump_json(by_alias=True))


def no_content() -> Response:
    return Response(status_code=204, content_type=None, body=None)
