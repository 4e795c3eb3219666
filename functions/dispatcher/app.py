"""EventBridge schedule -> enqueue one sync message per district whose night has come."""

from rostersync.sync.dispatch import dispatch_due_districts


def lambda_handler(event, context):
    return dispatch_due_districts(event["time"])
