"""S3 "Object Created" (EventBridge) for a raw CSV bundle -> check, stage, queue its district's sync."""

from rostersync.sync.csv_arrival import from_event, handle


def lambda_handler(event, context):
    return handle(from_event(event))
