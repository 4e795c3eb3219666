"""What an injected fault looks like on the wire.

Some faults replace the answer (429, 500, 503, a proxy's HTML page, an imsx failure); the others
spoil the real answer (cut short, not JSON, connection dropped mid-body, late).
"""

from .faults import Fault
from .responses import Response, imsx_status, json_response

REPLACING = {"429", "500", "503", "html", "imsx_failure", "imsx_failure_empty"}

PROXY_PAGE = b"""<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""


def replacement(fault: Fault, api_path: str = "") -> Response:
    """The answer a replacing fault sends instead of the real one."""
    retry = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.kind == "429":
        return json_response(429, imsx_status("server_busy", "too many requests: slow down"), retry)
    if fault.kind == "503":
        return json_response(503, imsx_status("server_busy", "service unavailable: try again later"), retry)
    if fault.kind == "500":
        return json_response(500, imsx_status("internal_server_error", "internal server error"))
    if fault.kind == "html":
        return Response(502, PROXY_PAGE, content_type="text/html")
    if fault.kind == "imsx_failure_empty":
        # A 200 whose collection is there but empty, next to a failure status: not the end of it.
        collection = api_path.strip("/").rsplit("/", 1)[-1] or "users"
        return json_response(
            200,
            {
                collection: [],
                "imsx_statusInfo": imsx_status(
                    "server_busy", "the request could not be processed", code_major="failure", severity="error"
                ),
            },
        )
    # imsx_failure: a status payload where records were expected, with 200 (some servers) or 500.
    return json_response(
        fault.status,
        {
            "imsx_statusInfo": imsx_status(
                "server_busy", "the request could not be processed", code_major="failure", severity="error"
            )
        },
    )


def spoil(response: Response, fault: Fault) -> Response:
    """The real answer, spoiled the way the fault says ("slow" is a delay: sent as it is)."""
    body = response.body
    if fault.kind == "truncate":
        # A 200 whose (correctly framed) body stops half way, as a proxy buffer cut off.
        return Response(200, body[: max(1, len(body) // 2)], response.content_type, dict(response.headers))
    if fault.kind == "invalid_json":
        # A trailing comma before the closing bracket: looks like JSON, is not.
        return Response(
            200, body[:-2] + b",]}" if len(body) > 2 else b"{,}", response.content_type, dict(response.headers)
        )
    if fault.kind == "drop":
        return Response(
            response.status, body, response.content_type, dict(response.headers), drop_after_bytes=len(body) // 2
        )
    return response
