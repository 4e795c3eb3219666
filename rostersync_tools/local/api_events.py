"""HTTP requests -> API Gateway HTTP API payload 2.0 events, and responses back.

Shaped as API Gateway builds them for the template's one route, `ANY /{proxy+}` on the
`$default` stage, with the JWT authorizer's claims. Keys API Gateway leaves out when empty
(cookies, queryStringParameters, body) are left out here too.
"""

import base64
import json
import os
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

from rostersync_tools.local.functions import LOCAL_ACCOUNT_ID

ROUTE_KEY = "ANY /{proxy+}"
LOCAL_API_ID = "local"

# Bodies of these types reach the function as text; anything else base64, as API Gateway does.
_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
)
_TEXT_SUFFIXES = ("+json", "+xml")


def _is_text(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith(_TEXT_TYPES) or media.endswith(_TEXT_SUFFIXES)


def _request_id() -> str:
    """Looks like API Gateway's (base64 of a few random bytes); also sent back as apigw-requestid."""
    return base64.b64encode(os.urandom(10)).decode()


def lowercase_headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Header names lower-cased; a header sent more than once is comma-joined."""
    headers: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


def query_parameters(raw_query: str) -> dict[str, str]:
    """Decoded parameters; a repeated one comma-joined (`a=1&a=2` -> `{"a": "1,2"}`)."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        params[name] = f"{params[name]},{value}" if name in params else value
    return params


@dataclass
class HttpRequest:
    method: str
    target: str  # path and query as sent on the request line
    headers: list[tuple[str, str]]
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    server_port: int = 443
    protocol: str = "HTTP/1.1"
    claims: dict[str, str] = field(default_factory=dict)
    scopes: list[str] | None = None


def build_event(request: HttpRequest, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    raw_path, _, raw_query = request.target.partition("?")
    headers = lowercase_headers(request.headers)
    cookie_header = headers.pop("cookie", "")
    cookies = [c.strip() for c in cookie_header.replace(",", ";").split(";") if c.strip()]
    host = headers.get("host", "127.0.0.1").split(":", 1)[0]
    request_id = _request_id()
    headers.setdefault("x-forwarded-for", request.source_ip)
    headers.setdefault("x-forwarded-port", str(request.server_port))
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{os.urandom(12).hex()}")

    event = {
        "version": "2.0",
        "routeKey": ROUTE_KEY,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT_ID,
            "apiId": LOCAL_API_ID,
            "authorizer": {"jwt": {"claims": dict(request.claims), "scopes": request.scopes}},
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": request.method.upper(),
                "path": raw_path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": ROUTE_KEY,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "pathParameters": {"proxy": unquote(raw_path.lstrip("/"))},
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if raw_query:
        event["queryStringParameters"] = query_parameters(raw_query)
    if request.body:
        try:
            text = request.body.decode("utf-8") if _is_text(headers.get("content-type", "")) else None
        except UnicodeDecodeError:
            text = None
        if text is None:
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def parse_result(result) -> HttpResponse:
    """The function's return value as API Gateway reads it (payload 2.0).

    A dict with statusCode is used as given; anything else is a 200 JSON body (2.0's simple form).
    """
    if not (isinstance(result, dict) and "statusCode" in result):
        body = json.dumps(result).encode()
        return HttpResponse(200, [("content-type", "application/json")], body)
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    headers += [("set-cookie", str(c)) for c in result.get("cookies") or []]
    raw = result.get("body")
    if raw is None:
        body = b""
    elif result.get("isBase64Encoded"):
        body = base64.b64decode(raw)
    else:
        body = str(raw).encode("utf-8")
    return HttpResponse(int(result["statusCode"]), headers, body)
