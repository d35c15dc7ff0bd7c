"""A job's status as a plain dict (the `mapreduce status --json` shape) and its
protobuf form. Used by the JobTracker (history, replies), the cluster runner and the
`mapreduce` shell, so all three agree on the keys:

    {"job_id", "name", "state", "input", "output", "maps_total", "maps_completed",
     "reduces_total", "reduces_completed", "map_progress", "reduce_progress",
     "counters": {group: {name: n}}, "error", "submitted_ms", "finished_ms",
     "running_attempts", "output_paths", "user", "share"}

"share" is a running job's fair share of the cluster's slots (0..1), 0 once finished.
"""
from __future__ import annotations

from typing import Any, Iterable

from mapreduce.rpc import jobtracker_pb2 as pb

FINISHED_STATES = ("succeeded", "failed", "killed")

_SCALARS = ("job_id", "name", "state", "input", "output", "maps_total", "maps_completed",
            "reduces_total", "reduces_completed", "map_progress", "reduce_progress",
            "error", "submitted_ms", "finished_ms", "running_attempts", "user", "share")


def counters_to_pb(counters: dict[str, dict[str, int]]) -> list[pb.Counter]:
    return [pb.Counter(group=g, name=n, value=v)
            for g, names in sorted(counters.items()) for n, v in sorted(names.items())]


def counters_from_pb(items: Iterable[pb.Counter]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for c in items:
        out.setdefault(c.group, {})[c.name] = c.value
    return out


def to_pb(status: dict[str, Any]) -> pb.JobStatus:
    msg = pb.JobStatus(**{k: status[k] for k in _SCALARS if status.get(k) is not None})
    msg.counters.extend(counters_to_pb(status.get("counters", {})))
    msg.output_paths.extend(status.get("output_paths", []))
    return msg


def from_pb(msg: pb.JobStatus) -> dict[str, Any]:
    status = {k: getattr(msg, k) for k in _SCALARS}
    status["finished_ms"] = msg.finished_ms or None
    status["counters"] = counters_from_pb(msg.counters)
    status["output_paths"] = list(msg.output_paths)
    return status


def progress_line(status: dict[str, Any]) -> str:
    """Hadoop's progress line: `map 50% reduce 10%`."""
    return (f"map {int(status['map_progress'] * 100):3d}% "
            f"reduce {int(status['reduce_progress'] * 100):3d}%")
