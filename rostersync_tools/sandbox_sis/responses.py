"""What the server answers: a small Response value and the OneRoster imsx status payloads."""

import json
from dataclasses import dataclass, field


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    # Set by the "drop" fault: send the headers (with the full Content-Length) and this many bytes
    # of the body, then close the socket.
    drop_after_bytes: int | None = None


def json_response(status: int, payload, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload).encode(), headers=dict(headers or {}))


def imsx_status(code_minor: str, description: str, code_major: str = "failure", severity: str = "error") -> dict:
    """The OneRoster 1.1 imsx_StatusInfo object."""
    return {
        "imsx_codeMajor": code_major,
        "imsx_severity": severity,
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code_minor}
            ]
        },
    }


def imsx_error(status: int, code_minor: str, description: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, imsx_status(code_minor, description), headers)


def not_found(description: str) -> Response:
    return imsx_error(404, "unknownobject", description)
