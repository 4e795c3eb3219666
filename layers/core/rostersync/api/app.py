"""The HTTP API: one Powertools resolver, one router module per setup step and for syncs
and rosters. `handle` is what functions/api/app.py (and the local adapter) call."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from rostersync.api import connection, provisioning, rosters, school_matching, sync_setup, syncs
from rostersync.api.errors import ApiError

app = APIGatewayHttpResolver(enable_validation=True)

for module in (provisioning, connection, school_matching, sync_setup, syncs, rosters):
    app.include_router(module.router)


@app.exception_handler(ApiError)
def _api_error(error: ApiError) -> Response:
    return Response(status_code=error.status, content_type="application/json", body=error.body())


def handle(event: dict, context) -> dict:
    return app.resolve(event, context)
