"""Entry point of the `minidfs` console script (and of `python -m minidfs.cli.main`,
which the local launcher uses to start daemons). Builds the root click group from
the command modules: file commands, `cluster ...`, `daemon ...`."""
from __future__ import annotations

import sys

import click

import minidfs
from minidfs.cli.admin_commands import admin_group
from minidfs.cli import append_commands
from minidfs.cli import balance_command
from minidfs.cli.events_command import events_command
from minidfs.cli.cluster_commands import cluster_group
from minidfs.cli.cert_commands import cert_group
from minidfs.cli import chaos_command  # noqa: F401  (registers `cluster chaos`)
from minidfs.cli import process_exit
from minidfs.cli.common import CliState
from minidfs.cli.daemon_command import daemon
from minidfs.cli.demo_command import demo
from minidfs.cli.fs_commands import COMMANDS
from minidfs.cli import dfs_extra_commands
from minidfs.cli.fsck_command import fsck
from minidfs.cli.ha_commands import ha_group
from minidfs.cli import quota_commands, trash_commands


@click.group()
@click.option("--conf", type=click.Path(dir_okay=False),
              help="Cluster file (default $MINIDFS_HOME/cluster.toml or ./.minidfs/cluster.toml).")
@click.option("--home", type=click.Path(file_okay=False),
              help="Cluster home folder holding cluster.toml.")
@click.option("--user", help="Act as this user (simple mode; default $MINIDFS_USER, else the OS user).")
@click.option("--cert-dir", type=click.Path(file_okay=False),
              help="Secure mode: act with the certificate in DIR (default $MINIDFS_CERT_DIR, "
                   "else the superuser's in the cluster's home).")
@click.version_option(minidfs.__version__, prog_name="minidfs")
@click.pass_context
def cli(ctx: click.Context, conf: str | None, home: str | None, user: str | None,
        cert_dir: str | None) -> None:
    """minidfs: a small HDFS. Paths are DFS paths; relative ones start at /user/<user>."""
    if cert_dir:
        import os

        from minidfs.security.credentials import ENV_CERT_DIR

        # Every client this command makes (Client, JobTracker, readiness) uses it.
        os.environ[ENV_CERT_DIR] = os.path.abspath(cert_dir)
    ctx.obj = CliState(conf, home, user, cert_dir)


for _command in (COMMANDS + dfs_extra_commands.COMMANDS + quota_commands.COMMANDS
                 + trash_commands.COMMANDS):
    cli.add_command(_command)
for _command in quota_commands.ADMIN_COMMANDS:
    admin_group.add_command(_command)
cli.add_command(cluster_group)
cli.add_command(cert_group)
cli.add_command(daemon)
cli.add_command(demo)
cli.add_command(fsck)
cli.add_command(admin_group)
admin_group.add_command(ha_group)
admin_group.add_command(events_command)
cli.add_command(append_commands.append)
cli.add_command(append_commands.tail)
admin_group.add_command(append_commands.recover_lease)
for _command in balance_command.COMMANDS:
    admin_group.add_command(_command)


def main() -> None:
    if sys.argv[1:2] == ["daemon"]:
        # A daemon ends through its own shutdown and a normal exit (its stop path is
        # tested that way); commands end with os._exit (process_exit.py).
        cli.main(prog_name="minidfs")
        return
    process_exit.run_and_exit(cli, "minidfs")


if __name__ == "__main__":
    main()
