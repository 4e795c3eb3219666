"""How hard a sync worker pushes (settings.SyncTuning): writer processes follow the function's
memory, as Lambda gives it vCPUs, unless the environment says otherwise."""

from rostersync.settings import LAMBDA_MB_PER_VCPU, SyncTuning, writer_processes_for
from rostersync.sync.worker import TimeBudget


def test_a_writer_process_per_vcpu_from_two_vcpus_on():
    assert writer_processes_for(None) == 0  # not on Lambda, nothing said
    assert writer_processes_for(512) == writer_processes_for(1769) == writer_processes_for(3537) == 0
    assert writer_processes_for(2 * LAMBDA_MB_PER_VCPU) == 2
    assert writer_processes_for(10240) == 5  # Lambda's largest: 5.8 vCPUs


def test_the_environment_overrides_the_memory(monkeypatch):
    monkeypatch.delenv("ROSTERSYNC_WRITER_PROCESSES", raising=False)
    assert SyncTuning.from_env(3538).writer_processes == 2
    assert SyncTuning.from_env().writer_processes == 0
    monkeypatch.setenv("ROSTERSYNC_WRITER_PROCESSES", "1")
    monkeypatch.setenv("ROSTERSYNC_WRITER_PROCESSES_AFTER", "7")
    tuning = SyncTuning.from_env(3538)
    assert (tuning.writer_processes, tuning.writer_processes_after) == (1, 7)


class LambdaLikeContext:
    memory_limit_in_mb = "3538"  # a string, as Lambda's Python runtime gives it

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def test_the_worker_hands_each_slice_its_functions_memory():
    assert TimeBudget(LambdaLikeContext(), 1).next_slice().memory_mb == 3538
    assert TimeBudget(None, 1).next_slice().memory_mb is None
