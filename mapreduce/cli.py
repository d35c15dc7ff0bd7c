"""The `mapreduce` shell: run a job file or a streaming job, and status / list / kill jobs.

    mapreduce run FILE.py[:Class] --input PATH --output PATH [--reducers N] [--conf C]
                  [--runner cluster|inline|spark] [--split-size SIZE] [--spark-master M]
    mapreduce streaming --input PATH --output PATH --mapper CMD [--combiner CMD]
                        [--reducer CMD] [--reducers N] [--file F ...]
                        [--runner cluster|inline|spark] [--spark-master M]
    mapreduce status JOB [--json] | list [--json] | kill JOB
    mapreduce --user NAME ...   (simple-mode identity; else $MINIDFS_USER, else the OS user)

Progress (`map 50% reduce 10%`) and counters go to stderr, the job id to stdout.
Exit 0 on success, 1 when the job or the operation failed (one line, or the user's
own traceback for a failed job), 2 on a usage error.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from typing import Any

import click

from mapreduce import jobstatus
from mapreduce.job import Job
from minidfs.errors import InvalidArgument, JobError, MinidfsError

# `mapreduce status` waits this long for a JobTracker that is restarting.
STATUS_RECONNECT_S = 10.0
LIST_COLUMNS = ("job_id", "state", "map", "reduce", "share", "name")


def load_job_file(spec: str) -> type[Job]:
    """The Job class named by FILE.py[:Class] (the only Job subclass in it if no Class)."""
    path, _, class_name = spec.rpartition(":") if spec.rpartition(":")[2].isidentifier() \
        else (spec, "", "")
    if not path.endswith(".py") or not os.path.isfile(path):
        raise InvalidArgument(f"{path}: not a Python job file")
    module_name = os.path.splitext(os.path.basename(path))[0]
    if not module_name.isidentifier():
        raise InvalidArgument(f"{path}: the file name must be a Python module name")
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    assert loader_spec is not None and loader_spec.loader is not None
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    loader_spec.loader.exec_module(module)
    if class_name:
        job_class = getattr(module, class_name, None)
        if not (isinstance(job_class, type) and issubclass(job_class, Job)):
            raise InvalidArgument(f"{path}: {class_name} is not a mapreduce.Job subclass")
        return job_class
    found = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Job)
             and v.__module__ == module_name]
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise InvalidArgument(f"{path}: name the job class as {path}:Class (Job classes: {names})")
    return found[0]


class ProgressPrinter:
    """Hadoop-style progress lines on stderr, one per change."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, status: dict[str, Any]) -> None:
        if status.get("submitted"):
            click.echo(f"Submitted job {status['job_id']} ({status['maps_total']} maps, "
                       f"{status['reduces_total']} reduces)", err=True)
            if status.get("page"):
                click.echo(f"The url to track the job: {status['page']}", err=True)
            return
        line = jobstatus.progress_line(status)
        if line != self.last:
            self.last = line
            click.echo(f"{time.strftime('%H:%M:%S')} {status['job_id']}  {line}", err=True)


def format_counters(counters: dict[str, dict[str, int]]) -> str:
    lines = [f"Counters: {sum(len(names) for names in counters.values())}"]
    for group, names in counters.items():
        lines.append(f"\t{group}")
        lines += [f"\t\t{name}={value}" for name, value in names.items()]
    return "\n".join(lines)


def share_cell(status: dict[str, Any]) -> str:
    """A running job's fair share of the cluster's slots, e.g. `50%`; `-` once over."""
    if status["state"] not in ("running", "committing"):
        return "-"
    return f"{round(status.get('share', 0.0) * 100)}%"


def _fail(command: str, message: str) -> None:
    click.echo(f"mapreduce {command}: {message}", err=True)
    sys.exit(1)


@click.group()
@click.option("--user", help="Act as this user (default $MINIDFS_USER, else the OS user).")
@click.option("--cert-dir", type=click.Path(file_okay=False),
              help="Secure mode: act with this certificate (default $MINIDFS_CERT_DIR, "
                   "else the superuser's in the cluster's home).")
@click.pass_context
def main(ctx: click.Context, user: str | None, cert_dir: str | None) -> None:
    """Run MapReduce jobs on a minidfs cluster (or inline, on local files)."""
    if cert_dir:
        from minidfs.security.credentials import ENV_CERT_DIR

        os.environ[ENV_CERT_DIR] = os.path.abspath(cert_dir)
    ctx.obj = user


def _user() -> str | None:
    return click.get_current_context().find_root().obj


@main.command()
@click.argument("job_file")
@click.option("--input", "input_path", required=True, help="Input file or directory.")
@click.option("--output", required=True, help="Output directory (must not exist).")
@click.option("--reducers", type=click.IntRange(0, 1000), default=1, show_default=True)
@click.option("--conf", type=click.Path(dir_okay=False), default=None,
              help="cluster.toml [default: $MINIDFS_HOME or ./.minidfs].")
@click.option("--runner", type=click.Choice(["cluster", "inline", "spark"]), default="cluster",
              show_default=True)
@click.option("--split-size", default=None, help="Inline runner: bytes per split (e.g. 1MiB).")
@click.option("--spark-master", default=None,
              help="Spark runner: local[N] or spark://host:port [default: local[*]].")
def run(job_file: str, input_path: str, output: str, reducers: int, conf: str | None,
        runner: str, split_size: str | None, spark_master: str | None) -> None:
    """Run the Job class in JOB_FILE (FILE.py or FILE.py:Class)."""
    try:
        job_class = load_job_file(job_file)
        result = job_class().run(input=input_path, output=output, reducers=reducers,
                                 runner=runner, conf=conf, split_size=split_size,
                                 progress=ProgressPrinter(), user=_user(),
                                 spark_master=spark_master)
    except JobError as e:
        _fail("run", str(e))
    except MinidfsError as e:
        _fail("run", str(e))
    _report_success(result)


@main.command()
@click.option("--input", "input_path", required=True, help="Input file or directory.")
@click.option("--output", required=True, help="Output directory (must not exist).")
@click.option("--mapper", required=True, help="Shell command: lines in, key<TAB>value lines out.")
@click.option("--combiner", default=None, help="Shell command run on sorted map output.")
@click.option("--reducer", default=None,
              help="Shell command: sorted key<TAB>value lines in [default: identity].")
@click.option("--reducers", type=click.IntRange(0, 1000), default=1, show_default=True)
@click.option("--file", "files", multiple=True, type=click.Path(dir_okay=False),
              help="A local file shipped to the tasks' working folder (repeatable).")
@click.option("--conf", type=click.Path(dir_okay=False), default=None,
              help="cluster.toml [default: $MINIDFS_HOME or ./.minidfs].")
@click.option("--runner", type=click.Choice(["cluster", "inline", "spark"]), default="cluster",
              show_default=True)
@click.option("--split-size", default=None, help="Inline runner: bytes per split (e.g. 1MiB).")
@click.option("--spark-master", default=None,
              help="Spark runner: local[N] or spark://host:port [default: local[*]].")
def streaming(input_path: str, output: str, mapper: str, combiner: str | None,
              reducer: str | None, reducers: int, files: tuple[str, ...], conf: str | None,
              runner: str, split_size: str | None, spark_master: str | None) -> None:
    """Run a streaming job: each task runs a shell command over its records."""
    from mapreduce.streaming import streaming_job

    try:
        # Hadoop runs no combiner in a map-only job: the maps' output is the output.
        job_class = streaming_job(mapper, combiner if reducers else None, reducer)
        result = job_class().run(input=input_path, output=output, reducers=reducers,
                                 runner=runner, conf=conf, files=list(files),
                                 split_size=split_size, progress=ProgressPrinter(),
                                 user=_user(), spark_master=spark_master)
    except MinidfsError as e:
        _fail("streaming", str(e))
    _report_success(result)


def _report_success(result: Any) -> None:
    click.echo(f"Job {result.job_id} succeeded in {result.timings['total_s']:.1f} s; "
               f"output in {result.output}", err=True)
    for number, step in enumerate(result.steps, 1):
        click.echo(f"Step {number} of {len(result.steps)} ({step['job_id']}) "
                   f"{format_counters(step['counters'])}", err=True)
    click.echo(format_counters(result.counters), err=True)
    click.echo(result.job_id)


@main.command()
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.option("--conf", type=click.Path(dir_okay=False), default=None)
def status(job_id: str, as_json: bool, conf: str | None) -> None:
    """Show a job's state, progress and counters."""
    from mapreduce.client import JobTrackerClient

    try:
        with JobTrackerClient(conf, user=_user()) as jobtracker:
            found = jobtracker.status(job_id, reconnect_s=STATUS_RECONNECT_S)
    except MinidfsError as e:
        _fail("status", str(e))
    if as_json:
        click.echo(json.dumps(found, indent=2, sort_keys=True))
        return
    click.echo(f"{found['job_id']}  {found['name']}  {found['state']}  "
               f"{jobstatus.progress_line(found)}")
    share = share_cell(found)
    click.echo(f"input {found['input']}  output {found['output']}  maps "
               f"{found['maps_completed']}/{found['maps_total']}  reduces "
               f"{found['reduces_completed']}/{found['reduces_total']}"
               + (f"  share {share}" if share != "-" else ""))
    click.echo(format_counters(found["counters"]))
    if found["error"]:
        click.echo(found["error"])


@main.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print the jobs as JSON.")
@click.option("--conf", type=click.Path(dir_okay=False), default=None)
def list_jobs(as_json: bool, conf: str | None) -> None:
    """List recent jobs, newest first."""
    from mapreduce.client import JobTrackerClient

    try:
        with JobTrackerClient(conf, user=_user()) as jobtracker:
            jobs = jobtracker.list()
    except MinidfsError as e:
        _fail("list", str(e))
    if as_json:
        click.echo(json.dumps(jobs, indent=2, sort_keys=True))
        return
    rows = [(j["job_id"], j["state"], f"{int(j['map_progress'] * 100)}%",
             f"{int(j['reduce_progress'] * 100)}%", share_cell(j), j["name"]) for j in jobs]
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(LIST_COLUMNS)]
    for row in [tuple(c.upper() for c in LIST_COLUMNS)] + rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


@main.command()
@click.argument("job_id")
@click.option("--conf", type=click.Path(dir_okay=False), default=None)
def kill(job_id: str, conf: str | None) -> None:
    """Kill a running job."""
    from mapreduce.client import JobTrackerClient

    try:
        with JobTrackerClient(conf, user=_user()) as jobtracker:
            found = jobtracker.kill(job_id)
    except MinidfsError as e:
        _fail("kill", str(e))
    click.echo(f"{found['job_id']} {found['state']}")


def entry() -> None:
    """The `mapreduce` command (see minidfs/cli/process_exit.py for how it ends)."""
    from minidfs.cli import process_exit

    process_exit.run_and_exit(main, "mapreduce")


if __name__ == "__main__":
    entry()
