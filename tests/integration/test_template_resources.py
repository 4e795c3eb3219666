"""The embedded AWS holds exactly the tables and queues template.yaml defines."""

from rostersync_tools.local.template_resources import load_template, resources_of_type, table_definitions


def test_every_template_table_exists_with_its_keys_and_indexes(aws):
    dynamodb = aws.client("dynamodb")
    template = load_template()
    definitions = table_definitions(template)
    assert set(definitions) == set(dynamodb.list_tables()["TableNames"])
    for name, wanted in definitions.items():
        table = dynamodb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == wanted["KeySchema"]
        assert {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]} == {
            a["AttributeName"]: a["AttributeType"] for a in wanted["AttributeDefinitions"]
        }
        created_indexes = {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])}
        wanted_indexes = {i["IndexName"]: i["KeySchema"] for i in wanted.get("GlobalSecondaryIndexes", [])}
        assert created_indexes == wanted_indexes


def test_sync_queue_dead_letters_after_the_templates_receive_count(aws):
    sqs = aws.client("sqs")
    props = resources_of_type(load_template(), "AWS::SQS::Queue")["SyncQueue"]
    url = aws.resources.queue_urls["SyncQueue"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == str(props["VisibilityTimeout"])
    assert '"maxReceiveCount": 5' in attributes["RedrivePolicy"]
    assert aws.resources.queue_arns["SyncDeadLetterQueue"] in attributes["RedrivePolicy"]


def test_template_visibility_timeout_is_six_times_the_worker_timeout():
    template = load_template()
    worker = template["Resources"]["SyncWorkerFunction"]["Properties"]
    queue = resources_of_type(template, "AWS::SQS::Queue")["SyncQueue"]
    assert queue["VisibilityTimeout"] >= 6 * worker["Timeout"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 5
