"""SQS batch -> run or continue each district's sync; failures reported per message."""

from rostersync.sync.worker import handle_batch


def lambda_handler(event, context):
    return handle_batch(event, context)
