"""CORS as the HTTP API's CorsConfiguration does it, but for any localhost origin.

Deployed, API Gateway answers preflights itself and adds the CORS headers to every response
for the template's AllowedOrigins, ignoring any CORS headers the function returns. Locally the
front ends run on http://localhost:<port>, so any localhost / 127.0.0.1 / [::1] origin is
allowed; the headers, methods and max age are the template's.
"""

import re
from dataclasses import dataclass
from typing import TypeGuard

from rostersync_tools.local.template_resources import http_api_cors, load_template

_LOCAL_ORIGIN = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$", re.IGNORECASE)


@dataclass(frozen=True)
class CorsPolicy:
    allow_headers: tuple[str, ...]
    allow_methods: tuple[str, ...]
    max_age: int

    @classmethod
    def from_template(cls, template: dict | None = None) -> "CorsPolicy":
        config = http_api_cors(template or load_template())
        return cls(
            allow_headers=tuple(h.lower() for h in config.get("AllowHeaders", [])),
            allow_methods=tuple(m.upper() for m in config.get("AllowMethods", [])),
            max_age=int(config.get("MaxAge", 0)),
        )

    @staticmethod
    def origin_allowed(origin: str | None) -> TypeGuard[str]:
        return bool(origin and _LOCAL_ORIGIN.match(origin))

    @staticmethod
    def is_preflight(method: str, headers: dict[str, str]) -> bool:
        return method.upper() == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers

    def preflight_headers(self, headers: dict[str, str]) -> list[tuple[str, str]]:
        """Headers of the 204 answer to a preflight; none for an origin that is not allowed."""
        origin = headers.get("origin")
        if not self.origin_allowed(origin):
            return []
        return [
            ("access-control-allow-origin", origin),
            ("access-control-allow-methods", ",".join(self.allow_methods)),
            ("access-control-allow-headers", ",".join(self.allow_headers)),
            ("access-control-max-age", str(self.max_age)),
            ("vary", "origin"),
        ]

    def response_headers(self, headers: dict[str, str]) -> list[tuple[str, str]]:
        """What is added to an actual response: the origin, when it is allowed."""
        origin = headers.get("origin")
        if not self.origin_allowed(origin):
            return []
        return [("access-control-allow-origin", origin), ("vary", "origin")]


def without_cors_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """API Gateway drops the function's own CORS headers when CORS is configured."""
    return [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
