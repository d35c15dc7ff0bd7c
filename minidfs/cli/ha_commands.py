"""`minidfs admin ha status [--json]`, `failover` and `bootstrap-standby`: the HA levers.

The `ha` group is attached to the `admin` group (minidfs/cli/admin_commands.py).
Both commands talk to every NameNode of cluster.toml through minidfs.client.ha_admin.

    $ minidfs admin ha status
    NAME  ROLE     STATE            EPOCH  LAST TXID  COMMITTED  CHECKPOINT  ADDRESS
    nn1   active   Primary          2      1043       1043       1000        127.0.0.1:41001
    nn2   standby  ActiveSecondary  2      1043       1043       1000        127.0.0.1:41002

    JOURNALNODE  STATE    EPOCH  COMMITTED  FIRST TXID  LAST TXID  SEGMENTS  LAG  ADDRESS
    jn1          ok       2      1043       1001        1043       2         0    127.0.0.1:41101
    jn3          lagging  2      1043       1021        1043       1         20   127.0.0.1:41103
"""
from __future__ import annotations

import click

from minidfs import config
from minidfs.cli import format as fmt
from minidfs.cli.common import reports_errors, state
from minidfs.client import bootstrap, ha_admin

STATUS_COLUMNS = ("NAME", "ROLE", "STATE", "EPOCH", "LAST TXID", "COMMITTED", "CHECKPOINT",
                  "ADDRESS")


def _conf() -> config.ClusterConfig:
    conf = config.load(state().conf_path)
    from minidfs.security import credentials

    credentials.for_client(conf)   # secure mode: these calls dial the NameNodes directly
    return conf


def status_lines(rows: list[dict]) -> list[str]:
    return fmt.table(([r["name"], r["role"], r.get("state") or r.get("error", ""),
                       r.get("epoch", ""), r.get("last_txid", ""),
                       r.get("journal_committed_txid", ""), r.get("checkpoint_txid", ""),
                       r["address"]] for r in rows), STATUS_COLUMNS)


@click.group("ha")
def ha_group() -> None:
    """NameNode high availability: roles, epochs, graceful failover."""


@ha_group.command("status")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"namenodes": [{"name", "role", "state", "epoch", "last_txid", ...}]}.')
@reports_errors
def status(as_json: bool) -> None:
    """Which NameNode is active, their epochs and how far each has applied the log;
    then each JournalNode's share of the journal and which of them lag."""
    conf = _conf()
    rows = ha_admin.ha_statuses(conf)
    journals = ha_admin.journal_statuses(conf) if conf.journalnodes else []
    if as_json:
        click.echo(fmt.to_json({"namenodes": rows, "journalnodes": journals}))
        return
    for line in status_lines(rows):
        click.echo(line)
    if journals:
        click.echo("")
        for line in journal_lines(journals):
            click.echo(line)


def journal_lines(rows: list[dict]) -> list[str]:
    return fmt.table(([r["name"], r["state"], r.get("promised_epoch", ""),
                       r.get("committed_txid", ""), r.get("first_txid", ""),
                       r.get("last_txid", ""), r.get("segments", ""),
                       r.get("lag_txns", ""), r["address"]] for r in rows),
                     ha_admin.JOURNAL_COLUMNS)


@ha_group.command("failover")
@click.option("--json", "as_json", is_flag=True, help='Print {"from", "to", "epoch", "seconds"}.')
@reports_errors
def failover(as_json: bool) -> None:
    """Hand the active role to the other NameNode gracefully."""
    result = ha_admin.failover(_conf(), user=state().user)
    if as_json:
        click.echo(fmt.to_json(result))
        return
    click.echo(f"failover: {result['from']} -> {result['to']} (epoch {result['epoch']}, "
               f"{result['seconds']:.1f} s)")


@ha_group.command("bootstrap-standby")
@click.option("--id", "name", metavar="NAME",
              help="The NameNode to set up (default: the one NameNode that is stopped).")
@click.option("--force", is_flag=True, help="Replace the images the NameNode already has.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"namenode", "from", "image_txid", "image_bytes"}.')
@reports_errors
def bootstrap_standby(name: str | None, force: bool, as_json: bool) -> None:
    """Give a new or wiped (stopped) NameNode the active's newest image, so it starts
    as a standby and tails the journal from there (HDFS's -bootstrapStandby)."""
    result = bootstrap.bootstrap_standby(_conf(), name, force, user=state().user)
    if as_json:
        click.echo(fmt.to_json(result))
        return
    click.echo(f"bootstrap-standby: {result['namenode']} has {result['from']}'s image at txid "
               f"{result['image_txid']} ({result['image_bytes']} bytes); start it with "
               f"`minidfs cluster start {result['namenode']}`")
