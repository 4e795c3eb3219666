"""What every pynamodb model shares.

No endpoint is set here: botocore (under boto3, pynamodb and Powertools alike) honours
AWS_ENDPOINT_URL, so the local stack and tests point every model at moto by setting that
one variable; deployed, it is unset and the models talk to DynamoDB. Retries and timeouts are
rostersync.aws_clients' (one policy for every DynamoDB client).
"""

from rostersync.aws_clients import pynamodb_settings
from rostersync.settings import get_settings


def model_meta(table_name: str) -> type:
    """A pynamodb Meta class for `table_name` in this stack's region (and endpoint, locally)."""
    attributes = {"table_name": table_name, "region": get_settings().region, **pynamodb_settings()}
    return type("Meta", (), attributes)
