"""`minidfs admin report|decommission|safemode`: the administrator's view and levers.

Registered on the root group by minidfs/cli/main.py; each subcommand is one or a
few NameNode RPCs through minidfs.client.health. Formats are in docs/recovery.md.
"""
from __future__ import annotations

import time
from typing import Any

import click

from minidfs import errors
from minidfs.cli import format as fmt
from minidfs.cli.common import reports_errors, state
from minidfs.client import health
from minidfs.sizes import format_size

DECOMMISSION_POLL_INTERVAL_S = 0.5
DECOMMISSION_WAIT_DEFAULT_S = 600.0
REPORT_COLUMNS = ("NAME", "STATE", "ADDRESS", "RACK", "CAPACITY", "USED", "REMAINING",
                  "BLOCKS", "VOLUMES", "LAST CONTACT", "REPLICAS")


def volumes_cell(node: dict[str, Any]) -> str:
    """`3` or `3 (1 failed)`: the node's data dirs as of its last heartbeat."""
    count = len(node.get("volumes", []))
    failed = node.get("failed_volumes", 0)
    return f"{count} ({failed} failed)" if failed else str(count or "-")


def report_lines(result: dict[str, Any]) -> list[str]:
    capacity = result["capacity"]
    use = f" ({100 * result['used'] / capacity:.1f}%)" if capacity else ""
    lines = [
        f"Configured capacity: {format_size(capacity)}",
        f"Used: {format_size(result['used'])}{use}",
        f"Remaining: {format_size(result['remaining'])}",
        f"Safe mode: {'ON' if result['safe_mode'] else 'off'}",
        f"DataNodes: {result['live_datanodes']} live, {result['dead_datanodes']} dead",
        f"Files: {result['files']}  Blocks: {result['blocks']}  Under-replicated: "
        f"{result['under_replicated']}  Missing: {result['missing']}  Corrupt: {result['corrupt']}",
        "",
    ]
    rows = [(n["name"], n["state"], n["address"], n["rack"], format_size(n["capacity"]),
             format_size(n["used"]), format_size(n["remaining"]), n["blocks"], volumes_cell(n),
             f"{n['last_contact_s']:g}s ago",
             " ".join(f"{k}={v}" for k, v in n["replica_states"].items()) or "-")
            for n in result["datanodes"]]
    failures = [f"{n['name']}: volume {v['path']} failed: {v['failure']}"
                for n in result["datanodes"] for v in n.get("volumes", []) if v["failure"]]
    return lines + fmt.table(rows, REPORT_COLUMNS) + ([""] + failures if failures else [])


@click.group("admin")
def admin_group() -> None:
    """Cluster administration: report, decommission, safe mode."""


@admin_group.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@reports_errors
def report(as_json: bool) -> None:
    """Capacity, use and every DataNode's state, last contact and replicas."""
    result = health.report(state().client().namenode)
    if as_json:
        click.echo(fmt.to_json(result))
        return
    for line in report_lines(result):
        click.echo(line)


@admin_group.command()
@click.option("--cancel", is_flag=True, help="Put the node back in service.")
@click.option("--wait", is_flag=True, help="Return only once the node is decommissioned.")
@click.option("--timeout", "wait_s", type=click.FloatRange(min=0),
              default=DECOMMISSION_WAIT_DEFAULT_S, show_default=True,
              help="With --wait: give up after this many seconds.")
@click.argument("name")
@reports_errors
def decommission(cancel: bool, wait: bool, wait_s: float, name: str) -> None:
    """Copy every replica of DataNode NAME elsewhere, then retire it (decommissioned)."""
    nn = state().client().namenode
    node_state = health.decommission(nn, name, cancel)
    if wait and not cancel:
        deadline = time.monotonic() + wait_s
        while node_state == "decommissioning":
            if time.monotonic() >= deadline:
                raise errors.MinidfsError(f"{name}: still decommissioning after {wait_s:g}s")
            time.sleep(DECOMMISSION_POLL_INTERVAL_S)
            node_state = next((n["state"] for n in health.datanode_report(nn) if n["name"] == name),
                              node_state)
    click.echo(f"{name}: {node_state}")


@admin_group.command()
@click.argument("action", type=click.Choice(["get", "enter", "leave"]))
@click.option("--json", "as_json", is_flag=True, help='Print {"on", "reason"}.')
@reports_errors
def safemode(action: str, as_json: bool) -> None:
    """Show, enter or leave the NameNode's safe mode (read-only while on)."""
    result = health.safe_mode(state().client().namenode, action)
    if as_json:
        click.echo(fmt.to_json(result))
        return
    reason = f" ({result['reason']})" if result["reason"] else ""
    click.echo(f"Safe mode is {'ON' if result['on'] else 'OFF'}{reason}")


@admin_group.command()
@click.option("--json", "as_json", is_flag=True, help='Print {"txid", "namenode", "state_id"}.')
@reports_errors
def msync(as_json: bool) -> None:
    """Ask the active NameNode for its last committed txid (HDFS's msync): the state
    id a client needs to read everything committed so far from observers
    (docs/observers.md)."""
    fs = state().client()
    answer = fs.namenode.msync()
    result = {"txid": answer.txid, "namenode": answer.namenode, "state_id": fs.state_id}
    if as_json:
        click.echo(fmt.to_json(result))
        return
    click.echo(f"msync: {answer.namenode} committed txid {answer.txid} (state id {fs.state_id})")
