"""template.yaml's alarms can reach on-call and watch something real.

For every alarm: its topic is one CloudWatch may publish to (the topic's policy lets the
cloudwatch service publish, and its KMS key's policy lets the cloudwatch service use the key: a
topic encrypted with the AWS managed alias/aws/sns key cannot receive alarms), and the metric it
names exists: the domain's own metrics are read from the code that emits them (every
`metrics.add_metric(name=...)` in layers/core/rostersync, in observability's namespace and with
its service dimension); AWS's are checked against the resources the template defines.
"""

import ast
import copy
import fnmatch
from pathlib import Path

import pytest

from rostersync import observability
from rostersync_tools.local.template_resources import load_template

DOMAIN = Path(__file__).resolve().parents[3] / "layers" / "core" / "rostersync"

# The metrics AWS publishes for the resource types our alarms watch (and the dimension naming one).
AWS_METRICS = {
    "AWS/SQS": (
        "AWS::SQS::Queue",
        "QueueName",
        {
            "ApproximateNumberOfMessagesVisible",
            "ApproximateAgeOfOldestMessage",
            "NumberOfMessagesSent",
            "NumberOfMessagesReceived",
        },
    ),
    "AWS/Lambda": (
        "AWS::Serverless::Function",
        "FunctionName",
        {"Errors", "Throttles", "Duration", "Invocations", "ConcurrentExecutions"},
    ),
    "AWS/ApiGateway": (
        "AWS::Serverless::HttpApi",
        "ApiId",
        {"4xx", "5xx", "Count", "Latency", "IntegrationLatency", "DataProcessed"},
    ),
}


def emitted_metric_names() -> set[str]:
    """Every metric name the domain code passes to metrics.add_metric(name="...")."""
    names = set()
    for path in DOMAIN.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_metric":
                for keyword in node.keywords:
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                        names.add(keyword.value.value)
    return names


def resources(template: dict, resource_type: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == resource_type}


def ref_name(value) -> str | None:
    """The logical id behind !Ref X or !GetAtt X.Attr."""
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    return None


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def allows(policy: dict, service: str, actions: tuple[str, ...]) -> bool:
    """An Allow statement for the service principal covering every action (wildcards honoured)."""
    for statement in as_list(policy.get("Statement", [])):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        if not isinstance(principal, dict) or service not in as_list(principal.get("Service", [])):
            continue
        granted = as_list(statement.get("Action", []))
        if all(any(fnmatch.fnmatchcase(action, pattern) for pattern in granted) for action in actions):
            return True
    return False


def topic_problems(template: dict, topic_name: str) -> list[str]:
    topics = resources(template, "AWS::SNS::Topic")
    if topic_name not in topics:
        return [f"{topic_name} is not a topic of the template"]
    problems = []
    key = topics[topic_name].get("Properties", {}).get("KmsMasterKeyId")
    if key is not None:
        key_name = ref_name(key)
        keys = resources(template, "AWS::KMS::Key")
        if key_name not in keys:
            problems.append(f"{topic_name} is encrypted with {key!r}, a key whose policy the stack cannot change")
        elif not allows(
            keys[key_name]["Properties"]["KeyPolicy"],
            "cloudwatch.amazonaws.com",
            ("kms:Decrypt", "kms:GenerateDataKey"),
        ):
            problems.append(f"{key_name}'s key policy does not let CloudWatch use it")
    policies = [
        p["Properties"]
        for p in resources(template, "AWS::SNS::TopicPolicy").values()
        if topic_name in [ref_name(t) for t in p["Properties"]["Topics"]]
    ]
    if not any(allows(p["PolicyDocument"], "cloudwatch.amazonaws.com", ("sns:Publish",)) for p in policies):
        problems.append(f"no topic policy lets CloudWatch publish to {topic_name}")
    return problems


def metric_problems(template: dict, alarm_name: str, alarm: dict, emitted: set[str]) -> list[str]:
    namespace, metric, dimensions = alarm["Namespace"], alarm["MetricName"], alarm.get("Dimensions", [])
    if namespace == observability.NAMESPACE:
        problems = [] if metric in emitted else [f"{alarm_name}: the code never emits {namespace}/{metric}"]
        if dimensions != [{"Name": "service", "Value": observability.SERVICE}]:
            problems.append(
                f"{alarm_name}: Powertools emits {metric} with only the dimension service="
                f"{observability.SERVICE}, not {dimensions}"
            )
        return problems
    if namespace not in AWS_METRICS:
        return [f"{alarm_name}: unknown namespace {namespace}"]
    resource_type, dimension, metrics = AWS_METRICS[namespace]
    problems = [] if metric in metrics else [f"{alarm_name}: {namespace} has no metric {metric}"]
    by_name = {d["Name"]: d["Value"] for d in dimensions}
    if ref_name(by_name.get(dimension)) not in resources(template, resource_type):
        problems.append(f"{alarm_name}: {dimension} does not name a {resource_type} of the template")
    if namespace == "AWS/ApiGateway":
        api = template["Resources"][ref_name(by_name[dimension])]["Properties"]
        if by_name.get("Stage") != api.get("StageName"):
            problems.append(f"{alarm_name}: Stage is not the API's stage")
    return problems


def all_problems(template: dict) -> list[str]:
    emitted = emitted_metric_names()
    problems = []
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        if not props.get("AlarmActions"):
            problems.append(f"{name} notifies nobody")
        for action in props.get("AlarmActions", []):
            problems += [f"{name}: {p}" for p in topic_problems(template, ref_name(action))]
        problems += metric_problems(template, name, props, emitted)
    return problems


@pytest.fixture(scope="module")
def template():
    return load_template()


def test_every_alarm_reaches_a_topic_cloudwatch_can_publish_to_and_watches_a_real_metric(template):
    assert all_problems(template) == []


def test_the_functions_emit_in_the_namespace_and_service_the_alarms_watch(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == observability.NAMESPACE
    assert variables["POWERTOOLS_SERVICE_NAME"] == observability.SERVICE


def test_the_alarms_watch_what_the_issue_asks_for(template):
    watched = {
        (
            a["Properties"]["Namespace"],
            a["Properties"]["MetricName"],
            tuple(ref_name(d["Value"]) or d["Value"] for d in a["Properties"].get("Dimensions", [])),
        )
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
    }
    for wanted in [
        ("RosterSync", "SyncFailures", ("rostersync",)),
        ("RosterSync", "SyncNeedsReview", ("rostersync",)),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", ("SyncDeadLetterQueue",)),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", ("DispatchDeadLetterQueue",)),
        ("AWS/Lambda", "Errors", ("DispatcherFunction",)),
        ("AWS/Lambda", "Throttles", ("DispatcherFunction",)),
        ("AWS/Lambda", "Errors", ("SyncWorkerFunction",)),
        ("AWS/Lambda", "Throttles", ("SyncWorkerFunction",)),
        ("AWS/ApiGateway", "5xx", ("HttpApi", "Stage")),
    ]:
        assert wanted in watched, wanted


def test_the_checks_catch_an_unusable_topic_and_a_metric_nobody_emits(template):
    managed = copy.deepcopy(template)
    managed["Resources"]["AlarmTopic"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"
    assert any("cannot change" in p for p in all_problems(managed))
    closed = copy.deepcopy(template)
    closed["Resources"]["AlarmKey"]["Properties"]["KeyPolicy"]["Statement"] = [
        s
        for s in closed["Resources"]["AlarmKey"]["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") != "CloudWatchAlarmsPublish"
    ]
    assert any("does not let CloudWatch" in p for p in all_problems(closed))
    misnamed = copy.deepcopy(template)
    misnamed["Resources"]["SyncFailuresAlarm"]["Properties"]["MetricName"] = "SyncFailed"
    assert any("never emits RosterSync/SyncFailed" in p for p in all_problems(misnamed))
    extra_dimension = copy.deepcopy(template)
    extra_dimension["Resources"]["SyncNeedsReviewAlarm"]["Properties"]["Dimensions"].append(
        {"Name": "districtId", "Value": "x"}
    )
    assert any("only the dimension service" in p for p in all_problems(extra_dimension))
    assert {"SyncFailures", "SyncNeedsReview", "AnnounceFailures"} <= emitted_metric_names()


def test_the_schedule_dead_letters_and_the_api_logs_who_asked_what_and_how_it_went(template):
    nightly = template["Resources"]["DispatcherFunction"]["Properties"]["Events"]["Nightly"]["Properties"]
    assert nightly["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    dlq = ref_name(nightly["DeadLetterConfig"]["Arn"])
    assert dlq in resources(template, "AWS::SQS::Queue")
    policy = next(
        p["Properties"]
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if dlq in [ref_name(q) for q in p["Properties"]["Queues"]]
    )
    assert allows(policy["PolicyDocument"], "events.amazonaws.com", ("sqs:SendMessage",))

    access = template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    assert ref_name(access["DestinationArn"]) in resources(template, "AWS::Logs::LogGroup")
    for variable in (
        "$context.requestId",
        "$context.routeKey",
        "$context.status",
        "$context.authorizer.claims.custom:district_id",
        "$context.responseLatency",
    ):
        assert variable in access["Format"], variable
    assert "body" not in access["Format"].lower() and "querystring" not in access["Format"].lower()


def test_the_worker_and_the_api_may_put_events_on_the_stacks_own_bus(template):
    assert "EventBus" in resources(template, "AWS::Events::EventBus")
    for function in ("SyncWorkerFunction", "ApiFunction"):
        policies = template["Resources"][function]["Properties"]["Policies"]
        assert {"EventBridgePutEventsPolicy": {"EventBusName": {"Ref": "EventBus"}}} in policies, function
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["EVENT_BUS_NAME"] == {"Ref": "EventBus"}
