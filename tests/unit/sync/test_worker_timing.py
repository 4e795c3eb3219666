"""The template and the worker agree on time: the sync worker's Timeout leaves a slice that can
read a page for every message of a full batch, and the queue hides a message for longer than
the function can run (issue 18)."""

from rostersync.sync import worker
from rostersync_tools.local.template_resources import load_template, resources_of_type, sqs_event_source

TEMPLATE = load_template()


def test_the_worker_timeout_leaves_a_slice_for_every_message_of_a_batch():
    timeout = TEMPLATE["Resources"]["SyncWorkerFunction"]["Properties"]["Timeout"]
    batch_size = sqs_event_source(TEMPLATE, "SyncWorkerFunction")["BatchSize"]
    assert timeout >= worker.SAFETY_SECONDS + batch_size * worker.MIN_SLICE_SECONDS
    # Each message's fair share is well above the minimal slice (a page may need retries).
    assert (timeout - worker.SAFETY_SECONDS) / batch_size >= 6 * worker.MIN_SLICE_SECONDS


def test_the_queue_hides_a_message_longer_than_the_worker_can_run():
    timeout = TEMPLATE["Resources"]["SyncWorkerFunction"]["Properties"]["Timeout"]
    queue = resources_of_type(TEMPLATE, "AWS::SQS::Queue")["SyncQueue"]
    assert queue["VisibilityTimeout"] >= 6 * timeout  # AWS's advice for SQS event sources
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 2
