"""What `Job.run` returns when a job succeeds (a failed job raises JobError instead)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class JobResult:
    job_id: str
    status: str                                  # "succeeded"
    output: str                                  # the output directory
    output_paths: list[str]                      # its part files, in partition order
    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # total_s, map_s, reduce_s
    runner: str = "inline"
    # A multi-step job's steps, in order: {"job_id", "counters", "timings"} each
    # (counters above are their sum); empty for a one-step job.
    steps: list[dict] = field(default_factory=list)

    def counter(self, group: str, name: str) -> int:
        return self.counters.get(group, {}).get(name, 0)
