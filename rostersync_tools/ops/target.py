"""Where the on-call commands act: a deployed stack (CloudFormation outputs), the running
local stack (its state file), or endpoints given on the command line.

Resolving a target also points this process's environment (and so the domain's store
models and queue helpers) at that stack's tables and queue, the way Lambda's environment
points the functions at them.
"""

import os
from dataclasses import dataclass

import boto3

from rostersync.settings import TABLES

DEFAULT_STACK = "rostersync-dev"
# CloudFormation outputs of template.yaml -> the environment the domain reads: every table's
# name (its `<logical id>Name` output, rostersync.settings.TABLES), the queues and the bus (a
# run ops fails, found dead-lettered while still running, is announced like any other).
_OUTPUT_ENV = {
    "SyncQueueUrl": "SYNC_QUEUE_URL",
    "SyncDeadLetterQueueUrl": "SYNC_DLQ_URL",
    "EventBusName": "EVENT_BUS_NAME",
    **{f"{logical_id}Name": variable for variable, logical_id in TABLES.values()},
}


class TargetError(Exception):
    """The stack could not be found or lacks what the command needs (a message for people)."""


@dataclass
class Target:
    description: str
    sqs: object
    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    # SQS message move tasks exist on AWS; the local stack's moto does not implement them.
    supports_move_tasks: bool


def resolve(args) -> Target:
    if args.local:
        return _local(args)
    if args.endpoint_url:
        return _explicit(args)
    return _aws(args)


def _local(args) -> Target:
    from rostersync_tools.local.state import NoRunningStack, read_running_state, state_dir

    try:
        state = read_running_state(state_dir(args.state_dir))
    except NoRunningStack as error:
        raise TargetError(str(error)) from None
    environment = state["environment"]
    apply_environment(environment)
    sqs = boto3.client("sqs", endpoint_url=state["aws"], region_name=environment.get("AWS_REGION", "us-east-1"))
    return _with_arns(
        f"local stack at {state['aws']}",
        sqs,
        environment["SYNC_QUEUE_URL"],
        environment["SYNC_DLQ_URL"],
        supports_move_tasks=False,
    )


def _explicit(args) -> Target:
    if not args.queue_url or not args.dlq_url:
        raise TargetError("--endpoint-url needs --queue-url and --dlq-url too")
    apply_environment(
        {
            "AWS_ENDPOINT_URL": args.endpoint_url,
            "SYNC_QUEUE_URL": args.queue_url,
            "SYNC_DLQ_URL": args.dlq_url,
            **({"AWS_REGION": args.region} if args.region else {}),
        }
    )
    sqs = boto3.client("sqs", endpoint_url=args.endpoint_url, region_name=args.region or _region())
    return _with_arns(f"endpoint {args.endpoint_url}", sqs, args.queue_url, args.dlq_url, supports_move_tasks=False)


def _aws(args) -> Target:
    region = args.region or _region()
    try:
        stacks = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=args.stack_name)["Stacks"]
    except Exception as error:  # no credentials, no such stack, no permission: say which
        raise TargetError(f"could not read stack {args.stack_name} in {region}: {error}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in _OUTPUT_ENV if key not in outputs]
    if missing:
        raise TargetError(f"stack {args.stack_name} has no outputs {', '.join(missing)}")
    apply_environment({env: outputs[key] for key, env in _OUTPUT_ENV.items()} | {"AWS_REGION": region})
    sqs = boto3.client("sqs", region_name=region)
    return _with_arns(
        f"stack {args.stack_name} ({region})",
        sqs,
        outputs["SyncQueueUrl"],
        outputs["SyncDeadLetterQueueUrl"],
        supports_move_tasks=True,
    )


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def _with_arns(description: str, sqs, queue_url: str, dlq_url: str, supports_move_tasks: bool) -> Target:
    def arn(url: str) -> str:
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    return Target(description, sqs, queue_url, arn(queue_url), dlq_url, arn(dlq_url), supports_move_tasks)


def apply_environment(environment: dict[str, str]) -> None:
    """Point the domain at these tables and queues, also if its store models were imported
    already (they take their table names from the environment when first imported)."""
    os.environ.update(environment)
    from rostersync.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    import sys

    tables = {
        "rostersync.store.districts": ("DistrictModel", settings.districts_table),
        "rostersync.store.sync_runs": ("SyncRunModel", settings.sync_runs_table),
    }
    for module_name, (model_name, table) in tables.items():
        module = sys.modules.get(module_name)
        if module is None:
            continue  # imported later, it reads the environment set above
        model = getattr(module, model_name)
        if model.Meta.table_name != table or model.Meta.region != settings.region:
            model.Meta.table_name, model.Meta.region = table, settings.region
            model._connection = None  # pynamodb builds a new one from Meta
