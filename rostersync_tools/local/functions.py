"""The real Lambda handlers (functions/<name>/app.py), loaded and invoked as Lambda would.

Every function's module is called `app`, so each is imported from its file under a module
name of its own. Like a Lambda cold start, a failed import is retried on the next invocation
(the domain may be mid-edit while the local stack runs).
"""

import importlib.util
import sys
import threading
import time
import uuid
from pathlib import Path

from rostersync_tools.local.embedded_aws import REGION
from rostersync_tools.local.template_resources import function_memory_mb, function_timeout_s, load_template

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account

# functions/<dir> -> the template's logical id (for Timeout, MemorySize)
FUNCTIONS = {
    "api": "ApiFunction",
    "dispatcher": "DispatcherFunction",
    "sync_worker": "SyncWorkerFunction",
    "csv_arrival": "CsvArrivalFunction",
}

_lock = threading.Lock()


def load_handler(name: str):
    """functions/<name>/app.py's lambda_handler, imported once per process."""
    module_name = f"rostersync_local_function_{name}"
    with _lock:
        module = sys.modules.get(module_name)
        if module is None:
            path = REPO_ROOT / "functions" / name / "app.py"
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"{path} cannot be imported as a module")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            sys.modules[module_name] = module  # only once the import succeeded
        return module.lambda_handler


class LambdaContext:
    """What Lambda passes as `context`: names, request id, memory and the time left."""

    def __init__(self, name: str, timeout_s: float | None = None, template: dict | None = None):
        template = template or load_template()
        logical_id = FUNCTIONS[name]
        self.function_name = f"rostersync-local-{logical_id}"
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{LOCAL_ACCOUNT_ID}:function:{self.function_name}"
        self.memory_limit_in_mb = function_memory_mb(template, logical_id)
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/[$LATEST]{uuid.uuid4().hex}"
        self.timeout_s = float(timeout_s if timeout_s is not None else function_timeout_s(template, logical_id))
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
