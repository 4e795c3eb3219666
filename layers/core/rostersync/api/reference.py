"""The API's own description, served without a token: GET /openapi.json and GET /docs (Redoc).

template.yaml gives these two routes no authorizer; api/access.py lets them through. The
document is generated from the app's routes once per container (as docs/openapi.json is):
api/app.py adds these routes with `add_reference_routes(app, ...)`, since the document is the app's.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

# Redoc's standalone bundle, pinned to a major version, from its CDN; the page holds nothing else.
REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Roster Sync API</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
</head>
<body>
  <redoc spec-url="openapi.json"></redoc>
  <script src="https://cdn.redoc.ly/redoc/v2.1.5/bundles/redoc.standalone.js"></script>
</body>
</html>
"""


def add_reference_routes(app: APIGatewayHttpResolver, document: Callable[[], str]) -> None:
    """GET /openapi.json (`document()`, the app's own) and GET /docs, both left out of the document."""

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document():
        return Response(
            status_code=200,
            content_type="application/json",
            body=document(),
            headers={"Cache-Control": "public, max-age=300"},
        )

    @app.get("/docs", include_in_schema=False)
    def docs_page():
        return Response(
            status_code=200,
            content_type="text/html; charset=utf-8",
            body=REDOC_PAGE,
            headers={"Cache-Control": "public, max-age=300"},
        )
