"""Create the template's DynamoDB tables and SQS queues in an AWS endpoint (moto, locally).

template.yaml is the one source of truth: this module reads the key schemas, indexes,
TTL and queue settings from it, so tests and the local stack cannot drift from what is
deployed. Physical names are the logical ids (the domain's settings default to them).
"""

import copy
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rostersync.settings import TABLES

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "template.yaml"

# Environment variable the domain reads for each table's name (rostersync.settings.TABLES).
TABLE_ENV = {logical_id: variable for variable, logical_id in TABLES.values()}
# The buckets the functions use (the console's is CloudFront's only) and their variables; locally a
# bucket is named by its logical id, lower-cased (S3 names are).
BUCKET_ENV = {"RawBundlesBucket": "BUNDLES_BUCKET"}
# The console runs on a loopback origin of any port locally.
LOCAL_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*"]


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that understands CloudFormation's short tags (!Ref, !GetAtt, !Sub, ...)."""


def _cfn_tag(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict:
    """The template as a dict of the caller's own. Parsed once per file version: parsing takes
    ~100 ms of CPU, and the local stack asks for it on every invocation (a Lambda context's
    timeout and memory); a copy of the parsed dict takes ~1 ms."""
    return copy.deepcopy(_parsed_template(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _parsed_template(path: Path, version: int) -> dict:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_CfnLoader)  # noqa: S506  (_CfnLoader is a SafeLoader)


def resources_of_type(template: dict, resource_type: str) -> dict[str, dict]:
    return {
        name: resource.get("Properties", {})
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def table_definitions(template: dict) -> dict[str, dict]:
    """CreateTable arguments per logical id, straight from the template's properties."""
    tables = {}
    for name, props in resources_of_type(template, "AWS::DynamoDB::Table").items():
        args = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        tables[name] = args
    return tables


@dataclass
class CreatedResources:
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    queue_urls: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL
    queue_arns: dict[str, str] = field(default_factory=dict)
    event_buses: dict[str, str] = field(default_factory=dict)  # logical id -> bus name
    buckets: dict[str, str] = field(default_factory=dict)  # logical id -> bucket name

    def environment(self) -> dict[str, str]:
        """The variables template.yaml's Globals give every function, for these resources."""
        env = {TABLE_ENV[name]: table for name, table in self.tables.items() if name in TABLE_ENV}
        env["SYNC_QUEUE_URL"] = self.queue_urls["SyncQueue"]
        env["SYNC_DLQ_URL"] = self.queue_urls["SyncDeadLetterQueue"]
        if "EventBus" in self.event_buses:
            env["EVENT_BUS_NAME"] = self.event_buses["EventBus"]
        env.update({BUCKET_ENV[name]: bucket for name, bucket in self.buckets.items()})
        return env


def _resolve(value, created: CreatedResources):
    """The few intrinsic functions the queue properties use: GetAtt X.Arn and Ref."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        if attribute == "Arn":
            return created.queue_arns[logical]
        raise ValueError(f"unsupported GetAtt {logical}.{attribute}")
    if isinstance(value, dict):
        return {k: _resolve(v, created) for k, v in value.items()}
    return value


def create_resources(session, endpoint_url: str | None = None, template: dict | None = None) -> CreatedResources:
    """Create every table and queue of the template; existing ones are left as they are."""
    template = template or load_template()
    created = CreatedResources()
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
    existing = set(dynamodb.list_tables()["TableNames"])
    for name, args in table_definitions(template).items():
        if name not in existing:
            dynamodb.create_table(**args)
        ttl = resources_of_type(template, "AWS::DynamoDB::Table")[name].get("TimeToLiveSpecification")
        if ttl and name not in existing:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        created.tables[name] = name

    sqs = session.client("sqs", endpoint_url=endpoint_url)
    queues = resources_of_type(template, "AWS::SQS::Queue")
    # Queues that others point at (dead-letter queues) first.
    ordered = sorted(queues, key=lambda name: "RedrivePolicy" in queues[name])
    for name in ordered:
        props = queues[name]
        attributes = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
            if key in props:
                attributes[key] = str(props[key])
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(_resolve(props["RedrivePolicy"], created))
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        created.queue_urls[name] = url
        created.queue_arns[name] = arn

    buses = resources_of_type(template, "AWS::Events::EventBus")
    if buses:
        events = session.client("events", endpoint_url=endpoint_url)
        existing_buses = {bus["Name"] for bus in events.list_event_buses()["EventBuses"]}
        for name in buses:
            if name not in existing_buses:
                events.create_event_bus(Name=name)
            created.event_buses[name] = name

    s3 = session.client("s3", endpoint_url=endpoint_url)
    existing_buckets = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    for name, props in resources_of_type(template, "AWS::S3::Bucket").items():
        if name not in BUCKET_ENV:
            continue
        bucket = name.lower()
        if bucket not in existing_buckets:
            s3.create_bucket(Bucket=bucket)
        rules = (props.get("CorsConfiguration") or {}).get("CorsRules") or []
        if rules:  # the template's rules, for the local console's origins
            local_rules = [{**_cors_rule(rule), "AllowedOrigins": LOCAL_ORIGINS} for rule in rules]
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": local_rules})
        created.buckets[name] = bucket
    return created


def _cors_rule(rule: dict) -> dict:
    keys = ("AllowedMethods", "AllowedHeaders", "ExposedHeaders")
    out = {key: rule[key] for key in keys if key in rule}
    if "MaxAge" in rule:
        out["MaxAgeSeconds"] = int(rule["MaxAge"])
    return out


# ---------------------------------------------------------------- function settings
# The local stack runs the functions the way Lambda would; these read how from the template.


def function_properties(template: dict, logical_id: str) -> dict:
    """A function's properties with the template's Globals.Function filled in where unset."""
    defaults = (template.get("Globals") or {}).get("Function") or {}
    props = template["Resources"][logical_id].get("Properties", {})
    return {**defaults, **props}


def function_timeout_s(template: dict, logical_id: str) -> int:
    return int(function_properties(template, logical_id).get("Timeout", 3))


def function_memory_mb(template: dict, logical_id: str) -> int:
    return int(function_properties(template, logical_id).get("MemorySize", 128))


def sqs_event_source(template: dict, logical_id: str) -> dict:
    """The properties of a function's (one) SQS event: Queue, BatchSize, FunctionResponseTypes..."""
    events = template["Resources"][logical_id]["Properties"].get("Events", {})
    for event in events.values():
        if event.get("Type") == "SQS":
            return event.get("Properties", {})
    raise ValueError(f"{logical_id} has no SQS event")


def http_api_cors(template: dict, logical_id: str = "HttpApi") -> dict:
    """The HTTP API's CorsConfiguration (AllowHeaders, AllowMethods, MaxAge, ...)."""
    return template["Resources"][logical_id]["Properties"].get("CorsConfiguration", {})
