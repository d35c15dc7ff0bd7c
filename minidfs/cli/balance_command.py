"""`minidfs admin balance [--threshold PCT]` and `minidfs admin set-bandwidth SIZE`.

Registered on the admin group by minidfs/cli/main.py. `balance` runs
minidfs.client.balancer until every live DataNode's use is within the threshold
of the mean, printing one line per iteration and per move; exit 0 when balanced,
1 (one line) when it cannot get there. Ctrl-C stops it (exit 130); moves already
handed out finish or lapse on their own and a rerun carries on. Formats are in
docs/balancer.md.
"""
from __future__ import annotations

import click

from minidfs.balancer.plan import DEFAULT_THRESHOLD_PCT
from minidfs.cli import format as fmt
from minidfs.cli.common import SIZE, reports_errors, state
from minidfs.client import balancer
from minidfs.errors import MinidfsError
from minidfs.sizes import format_size

# Heartbeats to wait between iterations, so the NameNode's use figures are fresh.
SETTLE_HEARTBEATS = 2


@click.command()
@click.option("--threshold", "threshold_pct", type=click.FloatRange(min=0, min_open=True, max=100),
              default=DEFAULT_THRESHOLD_PCT, show_default=True,
              help="Percentage points of use a DataNode may differ from the mean.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the outcome as a JSON object at the end.")
@reports_errors
def balance(threshold_pct: float, as_json: bool) -> None:
    """Move replicas until every DataNode's use is within PCT of the mean (superuser)."""
    client = state().client()
    settle_s = SETTLE_HEARTBEATS * client.conf.settings.heartbeat_interval_s
    say = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    outcome = balancer.Balancer(client.namenode, threshold_pct, settle_s=settle_s, say=say).run()
    summary = (f"moved {outcome.moved_blocks} blocks ({format_size(outcome.moved_bytes)}) in "
               f"{outcome.iterations} iterations, {outcome.abandoned} moves abandoned")
    if as_json:
        click.echo(fmt.to_json(outcome._asdict()))
    if not outcome.balanced:
        raise MinidfsError(f"cannot balance: {outcome.reason}: furthest DataNode "
                           f"{outcome.spread_pct:.1f} points from the mean use "
                           f"{outcome.mean_pct:.1f}% (threshold {threshold_pct:g}); {summary}")
    if not as_json:
        click.echo(f"The cluster is balanced: every DataNode is within {threshold_pct:g} points "
                   f"of the mean use {outcome.mean_pct:.1f}% ({summary}).")


@click.command("set-bandwidth")
@click.argument("size", type=SIZE)
@reports_errors
def set_bandwidth(size: int) -> None:
    """Bytes/s each DataNode may spend on re-replication and balancing (e.g. 10MiB)."""
    balancer.set_bandwidth(state().client().namenode, size)
    click.echo(f"Balancer bandwidth set to {format_size(size)}/s")


COMMANDS = [balance, set_bandwidth]
