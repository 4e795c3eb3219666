"""What every pynamodb model shares: region and endpoint come from the environment.

boto3 and botocore honour AWS_ENDPOINT_URL, so the local stack points every model at moto
by setting that one variable; deployed, it is unset and the models talk to DynamoDB.
"""

import os

from rostersync.settings import get_settings


def model_meta(table_name: str) -> type:
    """A pynamodb Meta class for `table_name` in this stack's region (and endpoint, locally)."""
    settings = get_settings()

    class Meta:
        pass

    Meta.table_name = table_name
    Meta.region = settings.region
    Meta.host = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL") or None
    Meta.max_retry_attempts = 8
    return Meta
