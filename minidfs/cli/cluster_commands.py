"""`minidfs cluster up|status|kill|start|restart|down`: the local launcher from the shell.

Registered on the root group by minidfs/cli/main.py; every subcommand is a thin
layer over cluster.LocalCluster. The home folder is --home, else the root
--home / the folder of the root --conf, else $MINIDFS_HOME, else ./.minidfs.
"""
from __future__ import annotations

from typing import Any, Callable

import click

from minidfs.cli import format as fmt
from minidfs.cli.common import SIZE, command_name, reports_errors, state

SIGNAL_NAMES = ("KILL", "TERM", "STOP", "CONT")


def home_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--home", type=click.Path(file_okay=False),
                        help="Cluster home folder (default $MINIDFS_HOME or ./.minidfs).")(func)


def _attach(home: str | None) -> Any:
    from cluster.local import LocalCluster

    return LocalCluster.attach(state().cluster_home(home))


# A cluster a user starts by hand has the trash on, so `rm` behaves as DESIGN.md §6
# says (moves to /user/<user>/.Trash) and a slip of the hand is recoverable for a day,
# as most Hadoop distributions ship fs.trash.interval (1440 minutes). The setting's own
# default stays 0 (HDFS's), so clusters built from a bare cluster.toml or LocalCluster
# in tests delete at once unless they ask.
LOCAL_TRASH_INTERVAL_S = 86400.0


@click.group("cluster")
def cluster_group() -> None:
    """Run a whole cluster as local processes."""


@cluster_group.command()
@home_option
@click.option("--datanodes", type=click.IntRange(1, 64), default=3, show_default=True)
@click.option("--workers", type=click.IntRange(0, 64), default=None,
              help="MapReduce workers [default: one per DataNode once MapReduce exists].")
@click.option("--ha/--no-ha", default=False, show_default=True,
              help="Two NameNodes and three JournalNodes.")
@click.option("--observers", type=click.IntRange(0, 8), default=0, show_default=True,
              help="With --ha: observer NameNodes nn3.. that serve reads (docs/observers.md).")
@click.option("--block-size", type=SIZE, help="Default block size, e.g. 64KiB, 1MiB.")
@click.option("--replication", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--trash-interval", "trash_interval_s", type=click.FloatRange(min=0),
              default=LOCAL_TRASH_INTERVAL_S, show_default=True,
              help="Seconds a removed file stays in the trash; 0 turns the trash off "
                   "(docs/trash.md). Only for a new home.")
@reports_errors
def up(home: str | None, datanodes: int, workers: int | None, ha: bool, observers: int,
       block_size: int | None, replication: int, trash_interval_s: float) -> None:
    """Start a local cluster; return once it serves."""
    from cluster.local import LocalCluster, StartupError, default_workers

    if observers and not ha:
        raise click.UsageError("--observers needs --ha (observers tail the JournalNodes)")
    if workers is None:
        workers = default_workers(datanodes)
    cluster = LocalCluster(state().cluster_home(home), datanodes=datanodes, workers=workers,
                           ha=ha, observers=observers, block_size=block_size,
                           replication=replication,
                           user=state().user, trash_interval_s=trash_interval_s)
    try:
        cluster.up()
    except StartupError as e:
        # The one exception to "one line": the failed node's log says why.
        ctx = click.get_current_context()
        click.echo(f"minidfs: {command_name(ctx)}: {e}", err=True)
        for line in e.log_tail.splitlines():
            click.echo(f"  | {line}", err=True)
        ctx.exit(1)
    conf = cluster.conf
    counts = ", ".join(f"{len(nodes)} {kind}" for kind, nodes in (
        ("NameNode(s)", conf.namenodes), ("DataNode(s)", conf.datanodes),
        ("Worker(s)", conf.workers)))
    click.echo(f"minidfs cluster is up in {cluster.home.root}: {counts}")
    click.echo(f"  namenode: {conf.namenodes[0].address}   conf: {cluster.conf_path}")


@cluster_group.command()
@home_option
@click.option("--json", "as_json", is_flag=True, help='Print {"nodes": [...]}.')
@reports_errors
def status(home: str | None, as_json: bool) -> None:
    """Show every node: kind, role, address, pid and state (DataNodes: also how the
    NameNode sees them, nn_state: live, dead, decommissioning, ... or unknown)."""
    from minidfs.client.health import datanode_states

    local = _attach(home)
    nodes = local.status()
    seen = datanode_states(local.conf)
    for node in nodes:
        if node["kind"] == "datanode":
            node["nn_state"] = (seen or {}).get(node["name"], "unknown")
    if as_json:
        click.echo(fmt.to_json({"nodes": nodes}))
        return
    columns = fmt.STATUS_COLUMNS + ("ready", "ha_state", "nn_state", "http")
    words = {True: "yes", False: "no"}   # "ready": the node's own /readyz
    for line in fmt.table(([words.get(n.get(c), n.get(c)) if c == "ready" else n.get(c)
                            for c in columns] for n in nodes), [c.upper() for c in columns]):
        click.echo(line)


@cluster_group.command()
@home_option
@click.option("--signal", "signal_name", type=click.Choice(SIGNAL_NAMES, case_sensitive=False),
              default="KILL", show_default=True)
@click.argument("name")
@reports_errors
def kill(home: str | None, signal_name: str, name: str) -> None:
    """Send a signal to one node (KILL simulates a crash, STOP a hang)."""
    _attach(home).kill(name, signal_name.upper())


@cluster_group.command()
@home_option
@click.argument("name")
@reports_errors
def start(home: str | None, name: str) -> None:
    """Start one stopped node again."""
    _attach(home).start(name)


@cluster_group.command()
@home_option
@click.argument("name")
@reports_errors
def restart(home: str | None, name: str) -> None:
    """Stop one node gracefully (KILL after a grace period) and start it."""
    _attach(home).restart(name)


@cluster_group.command()
@home_option
@reports_errors
def down(home: str | None) -> None:
    """Stop every node; data and logs stay."""
    _attach(home).down()
