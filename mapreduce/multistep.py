"""Runs a multi-step job (Job.steps(), mapreduce/steps.py) as one job per step.

Called by `Job.run` when the job has steps, for the inline and cluster runners (the
Spark runner chains steps itself). Like mrjob on Hadoop, each step is an ordinary
job of the chosen runner: step i reads step i-1's output and writes its own under
the job's temporary folder,

    <output>/_temporary/steps/step-01/part-*   ...   step-NN/part-*

and when the last step succeeded its part files move into <output>, `_temporary`
(every intermediate output) is removed and `_SUCCESS` written, the output
committer's job commit. A failed step removes `_temporary`, so nothing is left that
looks complete. Tasks learn their step from the runner: the inline runner runs a
subclass with `_step_index`, the cluster runner ships STEP_ENV in the job package.
"""
from __future__ import annotations

import os
import posixpath
import time
from typing import TYPE_CHECKING, Any, Callable

from mapreduce.committer import TEMP_DIR, OutputCommitter
from mapreduce.counters import Counters
from mapreduce.result import JobResult
from mapreduce.steps import STEP_ENV, Step
from minidfs.errors import JobError

if TYPE_CHECKING:
    from mapreduce.job import Job

STEPS_DIR = "steps"

RunStep = Callable[[int, str, str, int], JobResult]


def step_output(fs: Any, output: str, index: int) -> str:
    return fs.join(output, TEMP_DIR, STEPS_DIR, f"step-{index + 1:02d}")


def run_steps(job: "Job", plan: list[Step], input: str, output: str, reducers: int,
              runner: str, conf: Any, files: list[str], split_size: Any,
              progress: Callable[[dict], None] | None, user: str | None) -> JobResult:
    if runner == "spark":
        raise JobError("the spark runner runs a multi-step job through its own "
                       "runner call (mapreduce/runners/spark.py)")
    fs, input, output, run_step = _runner(job, plan, runner, input, output, conf, files,
                                         split_size, progress, user)
    try:
        return drive(fs, plan, input, output, reducers, run_step)
    finally:
        close = getattr(getattr(fs, "client", None), "close", None)
        if close is not None:
            close()


def drive(fs: Any, plan: list[Step], input: str, output: str, reducers: int,
          run_step: RunStep) -> JobResult:
    """Runs every step in order, then commits the last one's output as the job's."""
    started = time.monotonic()
    committer = OutputCommitter(fs, output)
    committer.check_output()
    results: list[JobResult] = []
    step_input = input
    try:
        for index, step in enumerate(plan):
            out = step_output(fs, output, index)
            step_reducers = reducers if step.reducers is None else step.reducers
            try:
                results.append(run_step(index, step_input, out, step_reducers))
            except JobError as e:
                raise JobError(f"step {index + 1} of {len(plan)}: {e}") from None
            step_input = out
        final = []
        for path in results[-1].output_paths:
            target = fs.join(output, posixpath.basename(path))
            fs.rename(path, target)
            final.append(target)
        committer.commit_job()
    except BaseException:
        committer.abort_job()
        raise
    counters = Counters()
    for result in results:
        counters.update(result.counters)
    last = results[-1]
    return JobResult(
        job_id=last.job_id, status="succeeded", output=output, output_paths=final,
        counters=counters.as_dict(), runner=last.runner,
        timings={"total_s": time.monotonic() - started,
                 "map_s": sum(r.timings.get("map_s", 0.0) for r in results),
                 "reduce_s": sum(r.timings.get("reduce_s", 0.0) for r in results)},
        steps=[{"job_id": r.job_id, "counters": r.counters, "timings": r.timings}
               for r in results])


def _step_progress(progress: Callable[[dict], None] | None, index: int,
                   total: int) -> Callable[[dict], None] | None:
    if progress is None:
        return None
    return lambda status: progress({**status, "step": index + 1, "steps": total})


def _runner(job: "Job", plan: list[Step], runner: str, input: str, output: str, conf: Any,
            files: list[str], split_size: Any, progress: Callable[[dict], None] | None,
            user: str | None) -> tuple[Any, str, str, RunStep]:
    """(file system, input, output, run one step) for the inline or cluster runner."""
    job_class = type(job)
    if runner == "inline":
        from mapreduce.fs import LocalFileSystem
        from mapreduce.runners.inline import run_inline

        def run_inline_step(index: int, step_in: str, step_out: str, n: int) -> JobResult:
            # The runner makes a fresh instance per task from the class it is given.
            step_class = type(job_class.__name__, (job_class,),
                              {"_step_index": index, "__module__": job_class.__module__})
            return run_inline(step_class(), step_in, step_out, n, files, split_size,
                              _step_progress(progress, index, len(plan)))

        return LocalFileSystem(), os.fspath(input), os.fspath(output), run_inline_step

    from mapreduce.dfs import DfsFileSystem
    from mapreduce.runners.cluster import run_cluster
    from minidfs import Client, identity, paths

    home = identity.home_directory(identity.current_user(user))
    input = paths.normalize_user_path(os.fspath(input), home)
    output = paths.normalize_user_path(os.fspath(output), home)
    fs = DfsFileSystem(Client(conf, user=user))

    def run_cluster_step(index: int, step_in: str, step_out: str, n: int) -> JobResult:
        return run_cluster(job, step_in, step_out, n, files, conf,
                           _step_progress(progress, index, len(plan)), user,
                           extra_env={STEP_ENV: str(index)},
                           name_suffix=f" step {index + 1}/{len(plan)}")

    return fs, input, output, run_cluster_step
