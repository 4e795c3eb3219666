"""`rostersync local up` serves the console and names it on the ready line; two stacks started
side by side (their own API and AWS ports, the default console port) both start."""

import re

import pytest
import requests

from tests.fixtures.stack import LocalUpProcess

pytestmark = pytest.mark.e2e


def test_local_up_prints_the_console_and_two_stacks_do_not_clash_on_it(tmp_path):
    first = LocalUpProcess(tmp_path / "one").start()
    try:
        second = LocalUpProcess(tmp_path / "two").start()
        try:
            consoles = []
            for stack in (first, second):
                assert stack.ready_line.startswith(f"ready api={stack.api_url} aws=")
                console = re.search(r" console=(\S+)", stack.ready_line).group(1)
                consoles.append(console)
                config = requests.get(console + "config.json", timeout=10).json()
                assert config["mode"] == "local" and config["apiUrl"] == stack.api_url
                assert "<title>Roster Sync console</title>" in requests.get(console, timeout=10).text
            assert consoles[0] != consoles[1]
        finally:
            second.kill()
    finally:
        first.kill()
