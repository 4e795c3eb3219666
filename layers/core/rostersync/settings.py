"""Run-time settings, read from the environment the template (or the local stack) sets.

The one module that reads environment variables. `get_settings()` is read once per process
(tests clear its cache); the tuning knobs below are read on each call, since the benchmark and
tests set them between runs in one process.
"""

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    districts_table: str
    schools_table: str
    users_table: str
    classes_table: str
    enrollments_table: str
    terms_table: str
    sync_runs_table: str
    checkpoints_table: str
    run_records_table: str
    record_links_table: str  # issue 13: SIS links, app match keys, matching conflicts
    audit_table: str
    sync_queue_url: str
    secret_prefix: str
    notifications_table: str
    # Per-host politeness: one item per SIS host, slots shared by every sync worker (store/host_leases.py).
    host_leases_table: str
    # The stack's own EventBridge bus (events for the app, docs/events.md).
    event_bus_name: str
    # The SES-verified sender of district notifications; empty: record them, send nothing.
    notify_from: str
    # Only the local stack sets this: it lets the OneRoster client call http:// and
    # loopback hosts (the sandbox SIS). Deployed stacks refuse them.
    allow_private_sis_hosts: bool
    # The local stack's HTTP adapter accepts any localhost origin; deployed, API Gateway does CORS.
    local_stack: bool
    # Where CSV bundles arrive (raw/<districtId>/...) and are staged (staged/<districtId>/<bundleId>/...).
    bundles_bucket: str = ""


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


# Every DynamoDB table, once: Settings' field -> (the variable template.yaml's Globals set to
# its name, its logical id in template.yaml). Unset, a name is the logical id, which is what the
# local stack and the tests name the tables; the local stack (rostersync_tools/local/
# template_resources.py) and the ops CLI (rostersync_tools/ops/target.py, from the stack's
# `<logical id>Name` outputs) set the variables from this map.
TABLES: dict[str, tuple[str, str]] = {
    "districts_table": ("DISTRICTS_TABLE", "DistrictsTable"),
    "schools_table": ("SCHOOLS_TABLE", "SchoolsTable"),
    "users_table": ("USERS_TABLE", "UsersTable"),
    "classes_table": ("CLASSES_TABLE", "ClassesTable"),
    "enrollments_table": ("ENROLLMENTS_TABLE", "EnrollmentsTable"),
    "terms_table": ("TERMS_TABLE", "TermsTable"),
    "sync_runs_table": ("SYNC_RUNS_TABLE", "SyncRunsTable"),
    "checkpoints_table": ("CHECKPOINTS_TABLE", "CheckpointsTable"),
    "run_records_table": ("RUN_RECORDS_TABLE", "RunRecordsTable"),
    "record_links_table": ("RECORD_LINKS_TABLE", "RecordLinksTable"),
    "audit_table": ("AUDIT_TABLE", "AuditTable"),
    "notifications_table": ("NOTIFICATIONS_TABLE", "NotificationsTable"),
    "host_leases_table": ("HOST_LEASES_TABLE", "HostLeasesTable"),
}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ
    return Settings(
        stage=env.get("ROSTERSYNC_STAGE", "dev"),
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION", "us-east-1"),
        **{field: env.get(variable, logical_id) for field, (variable, logical_id) in TABLES.items()},
        sync_queue_url=env.get("SYNC_QUEUE_URL", ""),
        secret_prefix=env.get("ROSTERSYNC_SECRET_PREFIX", "rostersync/dev/district/"),
        event_bus_name=env.get("EVENT_BUS_NAME", "EventBus"),
        notify_from=env.get("NOTIFY_FROM", "").strip(),
        allow_private_sis_hosts=_flag("ROSTERSYNC_ALLOW_PRIVATE_SIS_HOSTS"),
        local_stack=_flag("ROSTERSYNC_LOCAL_STACK"),
        bundles_bucket=env.get("BUNDLES_BUCKET", ""),
    )


def aws_endpoint_url() -> str | None:
    """Where AWS is: unset on AWS; the embedded AWS's address locally and in tests (read each
    time: tests point it at a new server)."""
    return os.environ.get("AWS_ENDPOINT_URL") or None


LAMBDA_MB_PER_VCPU = 1769  # Lambda gives a function memory / 1,769 MB of a vCPU, up to 6


def writer_processes_for(memory_mb: int | None) -> int:
    """Writer processes for a worker of `memory_mb` (store/write_processes.py): one per whole vCPU
    when it has two or more; none at one vCPU, where a process would only add its start to the
    same core. With the main process (reading, mapping, diffing) that is one busy process more
    than vCPUs: the main process waits for pages and write slots part of the time, and the
    measured split (bench/README.md "Latest results") is about 45% main, 55% the two writers."""
    vcpus = (memory_mb or 0) // LAMBDA_MB_PER_VCPU
    return vcpus if vcpus >= 2 else 0


@dataclass(frozen=True)
class SyncTuning:
    """How hard one sync worker pushes: records asked of the SIS a page, SIS pages and store
    writes in flight. Defaults suit the deployed worker; the benchmark varies them."""

    page_limit: int = 1000  # asked of the SIS; servers cap it silently
    sis_in_flight: int = 4
    store_in_flight: int = 4  # write batches in flight, per writer (this process or each writer process)
    # Processes that send the write batches (store/write_processes.py): from the worker's memory
    # (writer_processes_for: 2 for the worker's 3,538 MB, template.yaml); 0 keeps them in threads.
    writer_processes: int = 0
    # An invocation starts them once it has written this many batches (25,000 items): each costs
    # ~0.7 s of CPU to start and saves about half of a batch's ~5 ms, so fewer would not pay (a
    # quiet or a 1% night never starts one; a continued large run starts them again).
    writer_processes_after: int = 1000

    @classmethod
    def from_env(cls, memory_mb: int | None = None) -> "SyncTuning":
        """`memory_mb`: the Lambda's (its context's), which sets the writer processes unless
        ROSTERSYNC_WRITER_PROCESSES does (the benchmark, tests)."""
        env = os.environ
        return cls(
            page_limit=int(env.get("ROSTERSYNC_SIS_PAGE_LIMIT", cls.page_limit)),
            sis_in_flight=int(env.get("ROSTERSYNC_SIS_IN_FLIGHT", cls.sis_in_flight)),
            store_in_flight=int(env.get("ROSTERSYNC_STORE_IN_FLIGHT", cls.store_in_flight)),
            writer_processes=int(env.get("ROSTERSYNC_WRITER_PROCESSES", writer_processes_for(memory_mb))),
            writer_processes_after=int(env.get("ROSTERSYNC_WRITER_PROCESSES_AFTER", cls.writer_processes_after)),
        )


def change_lag_seconds(default: float) -> float:
    """ROSTERSYNC_CHANGE_LAG_SECONDS: how old a write must be to show in a change read."""
    return float(os.environ.get("ROSTERSYNC_CHANGE_LAG_SECONDS", default))


def sync_max_receive_count() -> int | None:
    """SYNC_MAX_RECEIVE_COUNT, when set: overrides the sync queue's own maxReceiveCount."""
    configured = os.environ.get("SYNC_MAX_RECEIVE_COUNT", "").strip()
    return int(configured) if configured else None


# A hosted vendor's OneRoster endpoint serves many districts: two workers' pages in flight (4
# each) is what its rate limits are built for. A platform admin sets a host's own limit
# (rostersync ops host-limit); ROSTERSYNC_HOST_MAX_CONCURRENT overrides this default.
DEFAULT_HOST_MAX_CONCURRENT = 8


def host_max_concurrent_default() -> int:
    """ROSTERSYNC_HOST_MAX_CONCURRENT: requests in flight per SIS host, all workers together."""
    return int(os.environ.get("ROSTERSYNC_HOST_MAX_CONCURRENT", DEFAULT_HOST_MAX_CONCURRENT))


def host_busy_delay_seconds() -> float:
    """ROSTERSYNC_HOST_BUSY_DELAY_S: how long a run whose SIS host is busy waits before it is
    tried again (jittered up to twice this; a host's Retry-After, when longer, wins)."""
    return float(os.environ.get("ROSTERSYNC_HOST_BUSY_DELAY_S", 30))


def dispatch_spread_seconds() -> int:
    """ROSTERSYNC_DISPATCH_SPREAD_S: each district's nightly run starts within this long of its
    night window opening (a stable jitter per district and night; 0: at the opening)."""
    return int(os.environ.get("ROSTERSYNC_DISPATCH_SPREAD_S", 2 * 60 * 60))
