"""The sandbox SIS: a real OneRoster 1.1 REST server on loopback with a generated district.

A tool for users, tests and benchmarks; never deployed. See server.SandboxSIS and cli.main.
"""

from .config import SandboxConfig
from .server import SandboxSIS

__all__ = ["SandboxConfig", "SandboxSIS"]
