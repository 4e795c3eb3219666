"""Published AWS prices and limits the benchmark's cost projection uses: one place, one date.

us-east-1 list prices, pay as you go, without free tiers (a district's marginal cost). Check them
against https://aws.amazon.com/pricing before relying on the projection; change them here only.
"""

from rostersync.settings import LAMBDA_MB_PER_VCPU as LAMBDA_MB_PER_VCPU  # the worker sizes its writer processes by it

PRICES_AS_OF = "2026-12-01 (us-east-1 list prices; DynamoDB on-demand after the 2024-11-01 reduction)"

# Lambda, arm64 (template.yaml: Architectures [arm64])
LAMBDA_PER_GB_SECOND = 0.0000133334
LAMBDA_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_MAX_SECONDS = 900  # an invocation's longest run

# DynamoDB on-demand, standard table class
DYNAMODB_PER_WRITE_UNIT = 0.625 / 1_000_000  # one write of up to 1 KB
DYNAMODB_PER_READ_UNIT = 0.125 / 1_000_000  # one strongly consistent read of up to 4 KB (eventual: half)
DYNAMODB_WRITE_UNIT_BYTES = 1024
DYNAMODB_READ_UNIT_BYTES = 4096
# What one worker's batch writes achieve on DynamoDB (25 items a request, a few in flight, ~20 ms a
# request): an assumption, not a published limit; on-demand tables take far more than this. Four
# in flight: the worker's two writer processes have eight (each after a ~5 ms fence read), so for
# them this over-states the time the writes take.
DYNAMODB_ITEMS_PER_SECOND_PER_WORKER = 4 * 25 / 0.020

# SQS standard queue
SQS_PER_REQUEST = 0.40 / 1_000_000  # send, receive and delete are a request each (64 KB chunks)

# Secrets Manager
SECRETS_MANAGER_PER_API_CALL = 0.05 / 10_000
SECRETS_MANAGER_PER_SECRET_MONTH = 0.40

# EventBridge: scheduled rule events are free; the dispatcher's schedule costs nothing per run.
EVENTBRIDGE_PER_SCHEDULED_EVENT = 0.0
