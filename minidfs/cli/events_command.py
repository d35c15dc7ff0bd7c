"""`minidfs admin events [--follow] [--json] [--jobs]`: a daemon's event feed.

Registered under `admin` by minidfs/cli/main.py. Prints every event the NameNode
(or, with --jobs, the JobTracker) still keeps, oldest first; --follow then prints
each new one as it happens, like `tail -f`, until Ctrl-C. --json prints a JSON
list, or with --follow one JSON object per line. Kinds: docs/observe.md.
"""
from __future__ import annotations

import json
import time
from typing import Any

import click

from minidfs import config, errors
from minidfs.cli import format as fmt
from minidfs.cli.common import reports_errors, state
from minidfs.client import events as feeds


def event_line(event: dict[str, Any]) -> str:
    ms = event["time_ms"]
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) + f".{ms % 1000:03d}"
    subjects = " ".join(f"{k}={v}" for k, v in event["subjects"].items())
    return f"{stamp}  {event['kind']:<26} {subjects}".rstrip()


def _feed(jobs: bool) -> feeds.Feed:
    path = state().conf_path
    if not path.exists():
        raise errors.ClusterError(f"cluster not reachable at {path}: no cluster file "
                                  "(start one with `minidfs cluster up`)")
    cluster = config.load(path)
    from minidfs.security import credentials

    credentials.for_client(cluster)   # secure mode: the feed is read over mutual TLS
    if jobs:
        if cluster.jobtracker is None:
            raise errors.ConfigError(f"{path}: the cluster has no JobTracker")
        return feeds.jobtracker_feed(cluster.jobtracker.address)
    return feeds.namenode_feed([n.address for n in cluster.of_kind("namenode")])


@click.command("events")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events (Ctrl-C stops).")
@click.option("--json", "as_json", is_flag=True,
              help="JSON: a list, or with --follow one object per line.")
@click.option("--jobs", is_flag=True, help="The JobTracker's feed (jobs and attempts).")
@reports_errors
def events_command(follow: bool, as_json: bool, jobs: bool) -> None:
    """What the NameNode (or JobTracker) decided: nodes dead and back, copies, safe mode..."""
    feed = _feed(jobs)
    click.get_current_context().call_on_close(feed.close)
    if not follow:
        found = feeds.read_all(feed)
        if as_json:
            click.echo(fmt.to_json(found))
        else:
            for event in found:
                click.echo(event_line(event))
        return
    try:
        for event in feeds.follow(feed):
            click.echo(json.dumps(event, sort_keys=True) if as_json else event_line(event))
    except KeyboardInterrupt:
        return  # Ctrl-C is how a follow ends
