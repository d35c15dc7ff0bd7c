"""The cluster runner: `Job.run(runner="cluster")` submits the job to the JobTracker.

It packs the job's module source, class name, shipped files and pass_env values,
submits them with the DFS input and output, follows the job's progress until it
finishes, and returns a JobResult or raises JobError with the failing attempt's
traceback. The cluster is the one in `conf`, else $MINIDFS_HOME/cluster.toml, else
./.minidfs/cluster.toml. The job runs as `user` (else $MINIDFS_USER, else the OS
user), and relative input / output paths start at that user's /user/<user>.
"""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Callable

from mapreduce import shipping
from mapreduce.client import WATCH_RECONNECT_S, JobTrackerClient
from mapreduce.result import JobResult
from mapreduce.rpc import jobtracker_pb2 as pb
from minidfs import identity, paths
from minidfs.errors import JobError

if TYPE_CHECKING:
    from mapreduce.job import Job


def submit_request(job: "Job", input: str, output: str, reducers: int,
                   files: list[str], user: str | None = None,
                   extra_env: dict[str, str] | None = None,
                   name_suffix: str = "") -> pb.SubmitRequest:
    """extra_env: package environment the runner adds (a step's number); name_suffix:
    added to the job's name (`mapreduce list` shows "examples.top_words.TopWords step 1/2")."""
    home = identity.home_directory(identity.current_user(user))
    package = shipping.package(type(job), files)
    env = [pb.EnvVar(name=name, value=os.environ[name])
           for name in job.pass_env if name in os.environ]
    env += [pb.EnvVar(name=name, value=value) for name, value in (extra_env or {}).items()]
    return pb.SubmitRequest(
        name=f"{package.module_name}.{package.class_name}{name_suffix}",
        package=pb.JobPackage(
            module_name=package.module_name, module_file=package.module_file,
            source=package.source, class_name=package.class_name,
            files=[pb.ShippedFile(name=n, data=d) for n, d in sorted(package.files.items())],
            env=env),
        input=paths.normalize_user_path(os.fspath(input), home),
        output=paths.normalize_user_path(os.fspath(output), home),
        reducers=reducers, task_timeout_s=float(job.task_timeout_s))


def run_cluster(job: "Job", input: str, output: str, reducers: int, files: list[str],
                conf: str | os.PathLike[str] | None,
                progress: Callable[[dict[str, Any]], None] | None,
                user: str | None = None,
                extra_env: dict[str, str] | None = None, name_suffix: str = "") -> JobResult:
    request = submit_request(job, input, output, reducers, files, user, extra_env, name_suffix)
    started = time.monotonic()
    maps_done_at: list[float] = []

    def follow(status: dict[str, Any]) -> None:
        if not maps_done_at and status["maps_completed"] == status["maps_total"]:
            maps_done_at.append(time.monotonic())
        if progress is not None:
            progress(status)

    with JobTrackerClient(conf, user=user) as jobtracker:
        job_id = jobtracker.submit(request)
        if progress is not None:
            progress({**jobtracker.status(job_id, reconnect_s=WATCH_RECONNECT_S),
                      "submitted": True,
                      "page": jobtracker.page_url(job_id)})
        status = jobtracker.wait(job_id, follow)
    return result_of(status, started, maps_done_at[0] if maps_done_at else None)


def result_of(status: dict[str, Any], started: float, maps_done_at: float | None) -> JobResult:
    """The JobResult of a finished job's status, or the JobError it failed with."""
    job_id = status["job_id"]
    if status["state"] == "killed":
        raise JobError(f"job {job_id} was killed")
    if status["state"] != "succeeded":
        raise JobError(f"job {job_id} failed: {status['error']}")
    finished = time.monotonic()
    maps_done_at = maps_done_at or finished
    return JobResult(
        job_id=job_id, status="succeeded", output=status["output"],
        output_paths=status["output_paths"], counters=status["counters"], runner="cluster",
        timings={"total_s": finished - started, "map_s": maps_done_at - started,
                 "reduce_s": finished - maps_done_at})
