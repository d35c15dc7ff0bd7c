"""`minidfs daemon KIND --conf cluster.toml --id NAME`: run one daemon in the foreground.

How the local launcher starts every node (as `python -m minidfs.cli.main daemon
...`) and how a multi-host cluster is run by hand. It sets up logging to stderr,
checks that NAME is a node of KIND in the cluster file, then hands over to the
kind's `server.main(conf, name)` and exits with its status. Errors are one line,
`minidfs daemon: ...` or `minidfs <kind> <name>: ...`, and exit 1.
"""
from __future__ import annotations

import importlib
import importlib.util

import click

from minidfs import config, logs
from minidfs.errors import ConfigError

DAEMON_MODULES = {
    "namenode": "minidfs.namenode.server",
    "datanode": "minidfs.datanode.server",
    "journalnode": "minidfs.journalnode.server",
    "jobtracker": "mapreduce.jobtracker.server",
    "worker": "mapreduce.worker.server",
}


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def _fail(prefix: str, message: str) -> None:
    click.echo(f"{prefix}: {message}", err=True)
    click.get_current_context().exit(1)


@click.command()
@click.argument("kind", type=click.Choice(list(DAEMON_MODULES)))
@click.option("--conf", "conf_path", required=True, type=click.Path(dir_okay=False),
              help="The cluster file.")
@click.option("--id", "name", required=True, help="This node's name in the cluster file.")
def daemon(kind: str, conf_path: str, name: str) -> None:
    """Run one daemon until SIGTERM/SIGINT."""
    module_name = DAEMON_MODULES[kind]
    if not _available(module_name):
        _fail("minidfs daemon", f"{kind}: not available yet")
    prefix = f"minidfs {kind} {name}"
    try:
        conf = config.load(conf_path)
        node = conf.node(name)
    except ConfigError as e:
        _fail(prefix, str(e))
    if node.kind != kind:
        _fail(prefix, f"{name} is a {node.kind} in {conf.path}, not a {kind}")
    logs.setup(name)
    server = importlib.import_module(module_name)
    click.get_current_context().exit(server.main(conf, name))
