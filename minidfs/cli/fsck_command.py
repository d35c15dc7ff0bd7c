"""`minidfs fsck [PATH] [--json] [--files --blocks --locations]`: block health.

Registered on the root group by minidfs/cli/main.py; a thin layer over
minidfs.client.health.fsck (one Fsck RPC). Exit status 0 when the status is
HEALTHY or DEGRADED (every byte readable, repair under way), 1 when CORRUPT (a
block has no readable replica) — like `hdfs fsck`. The JSON keys are in
docs/recovery.md.
"""
from __future__ import annotations

from typing import Any

import click

from minidfs.cli import format as fmt
from minidfs.cli.common import EXIT_ERROR, reports_errors, state
from minidfs.client import health
from minidfs.sizes import format_size

SUMMARY_LINES = (
    ("Total size", "total_bytes"), ("Total files", "files"), ("Open files", "open_files"),
    ("Total directories", "directories"), ("Total blocks", "blocks"),
    ("Under-replicated blocks", "under_replicated"), ("Over-replicated blocks", "over_replicated"),
    ("Mis-replicated blocks", "mis_replicated"), ("Missing blocks", "missing"),
    ("Corrupt blocks", "corrupt"), ("Live DataNodes", "live_datanodes"),
    ("Dead DataNodes", "dead_datanodes"), ("Racks", "racks"),
)


def fsck_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    for f in result.get("file_details", []):
        verdict = ", ".join(f["problems"]) or ("OPEN" if f["under_construction"] else "OK")
        lines.append(f"{fmt.escape_name(f['path'])} {f['length']} bytes, replication {f['replication']}, "
                     f"{f['block_count']} block(s): {verdict}")
        for b in f.get("blocks", []):
            line = (f"  blk_{b['id']}_{b['genstamp']} len={b['length']} "
                    f"live={b['live']}/{b['expected']}")
            if b["problems"]:
                line += " " + ",".join(b["problems"])
            if "replicas" in b:
                line += " [" + ", ".join(f"{r['datanode']} {r['state']}" for r in b["replicas"]) + "]"
            lines.append(line)
    if result.get("truncated"):
        lines.append("(more files than listed)")
    for f in result.get("open_file_details", []):
        lines.append(f"Open for writing since {fmt.format_time_ms(f['since'])}: "
                     f"{fmt.escape_name(f['path'])} (by {f['client']})")
    if lines:
        lines.append("")
    for label, key in SUMMARY_LINES:
        value = result[key]
        lines.append(f" {label}: {format_size(value) if key == 'total_bytes' else value}")
    lines += [f" Note: {note}" for note in result.get("notes", [])]
    lines.append(f"The filesystem under path '{fmt.escape_name(result['path'])}' is {result['status']}")
    return lines


@click.command()
@click.argument("path", default="/")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.option("--files", is_flag=True, help="List every file checked.")
@click.option("--blocks", is_flag=True, help="With --files: every block of each file.")
@click.option("--locations", is_flag=True, help="With --blocks: each replica and its state.")
@reports_errors
def fsck(path: str, as_json: bool, files: bool, blocks: bool, locations: bool) -> None:
    """Check the health of every block below PATH (default /)."""
    client = state().client()
    result = health.fsck(client.namenode, client.resolve(path), files=files,
                         blocks=blocks, locations=locations)
    if as_json:
        click.echo(fmt.to_json(result))
    else:
        for line in fsck_lines(result):
            click.echo(line)
    if result["status"] == "CORRUPT":
        click.get_current_context().exit(EXIT_ERROR)
