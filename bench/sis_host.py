"""The sandbox SIS in a process of its own, for `district_sync.py --sis-process`.

By default the benchmark's host process runs both moto and the sandbox, so the SIS's threads
share moto's GIL; a real SIS is a server elsewhere. With --sis-process the sandbox runs here,
in a spawned process driven over a pipe, and the host process holds only moto. SisProcess
offers what the benchmark uses of SandboxSIS: host_url, config, stats(), reset_stats(),
stop(), and change_share() (bench/changes.py, applied inside the sandbox's process).
"""

from __future__ import annotations

import multiprocessing

from rostersync_tools.sandbox_sis import SandboxConfig


def _serve(config: SandboxConfig, conn) -> None:
    from changes import change_share

    from rostersync_tools.sandbox_sis import SandboxSIS

    sis = SandboxSIS(config)
    sis.start(port=0)
    sis.state()  # every record's JSON cached, as in-process
    conn.send(sis.host_url)
    while True:
        command, args = conn.recv()
        if command == "stop":
            sis.stop()
            conn.send(None)
            return
        if command == "stats":
            conn.send(sis.stats())
        elif command == "reset_stats":
            sis.reset_stats()
            conn.send(None)
        elif command == "change_share":
            conn.send(change_share(sis, *args))
        else:
            conn.send(ValueError(f"unknown command {command!r}"))


class SisProcess:
    def __init__(self, config: SandboxConfig):
        self.config = config
        context = multiprocessing.get_context("spawn")  # not fork: the host process runs moto's threads
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(config, child), name="sandbox-sis", daemon=True)
        self._process.start()
        self.host_url = self._conn.recv()

    def _call(self, command: str, *args):
        self._conn.send((command, args))
        answer = self._conn.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def stats(self) -> dict:
        return self._call("stats")

    def reset_stats(self) -> None:
        self._call("reset_stats")

    def change_share(self, share: float, seed: int) -> dict[str, list[str]]:
        return self._call("change_share", share, seed)

    def stop(self) -> None:
        if self._process.is_alive():
            self._call("stop")
            self._process.join(10)
