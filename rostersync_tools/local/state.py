"""The local stack's state directory: the token key pair and the running stack's state file.

`local up` writes the state file (where the API, the embedded AWS and the SIS listen, and the
environment the functions run with) so that `local tick`, `local token` and `ops --local`,
run from other terminals, find the stack. It holds no secrets: moto takes any credentials.
"""

import json
import os
from pathlib import Path

import requests

STATE_DIR_ENV = "ROSTERSYNC_STATE_DIR"
DEFAULT_STATE_DIR = ".rostersync"
STATE_FILE = "local-stack.json"


class NoRunningStack(Exception):
    pass


def state_dir(explicit: str | os.PathLike | None = None) -> Path:
    return Path(explicit or os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR).resolve()


def write_state(directory: Path, state: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / STATE_FILE
    tmp = directory / f".{STATE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)  # readers never see half a file
    return path


def remove_state(directory: Path, pid: int | None = None) -> None:
    """Remove the state file, but only our own (another stack may have replaced it since)."""
    path = directory / STATE_FILE
    try:
        if pid is not None and json.loads(path.read_text(encoding="utf-8")).get("pid") != pid:
            return
        path.unlink()
    except (FileNotFoundError, ValueError):
        pass


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_running_state(directory: Path) -> dict:
    """The state of the stack that is running now, or NoRunningStack saying what to do."""
    path = directory / STATE_FILE
    hint = "start one with `rostersync local up` (or `make local`)"
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NoRunningStack(f"no local stack is running (no {path}); {hint}") from None
    except ValueError:
        raise NoRunningStack(f"{path} is unreadable; {hint}") from None
    pid = state.get("pid")
    if not isinstance(pid, int) or not _process_alive(pid):
        raise NoRunningStack(f"the local stack recorded in {path} (pid {pid}) is not running; {hint}")
    try:
        requests.get(f"{state['aws']}/moto-api/", timeout=3)
    except (requests.RequestException, KeyError):
        raise NoRunningStack(f"the local stack's AWS endpoint ({state.get('aws')}) does not answer; {hint}") from None
    return state
