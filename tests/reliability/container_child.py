"""One Lambda container of the pool harness (tests/reliability/lambda_pool.py): a process of its
own (its own in-process caches), its own /tmp (TMPDIR), the real sync worker handler.

Reads one JSON request a line on stdin: {"event": <SQS event>, "timeout_s": <function timeout>},
invokes functions/sync_worker/app.py with a Lambda-like context, and answers one JSON line on
the protocol stream. Everything the handler logs goes to stderr.
"""

import json
import os
import sys


def main() -> int:
    protocol = sys.stdout
    sys.stdout = sys.stderr  # Powertools logs to stdout: keep the protocol stream clean
    from rostersync.sync import worker
    from rostersync_tools.local.functions import LambdaContext, load_handler

    # The pool's functions run with a short timeout: the reserve kept back from it is short too,
    # and a slice may be as small as one page (the engine always reads one before pausing).
    # A "one page" budget (30 ms) may be spent before the worker even looks at it on a loaded
    # machine: the slice starts anyway (below zero) and reads its page, rather than count a stall
    # (five in a row fail the run; the stall rule has its own tests in tests/unit/sync).
    worker.SAFETY_SECONDS = float(os.environ.get("POOL_RESERVE_S", "1.0"))
    worker.MIN_SLICE_SECONDS = -worker.SAFETY_SECONDS
    handler = load_handler("sync_worker")
    protocol.write("ready\n")
    protocol.flush()
    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext("sync_worker", timeout_s=request["timeout_s"])
        try:
            answer = {"result": handler(request["event"], context)}
        except Exception as error:
            answer = {"error": f"{type(error).__name__}: {error}"}
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
