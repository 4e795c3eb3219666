"""API Gateway (HTTP API, payload 2.0) -> the domain's HTTP resolver."""

from rostersync.api.app import handle


def lambda_handler(event, context):
    return handle(event, context)
