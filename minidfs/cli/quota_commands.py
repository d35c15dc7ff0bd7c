"""Quotas in the `minidfs` shell: `count [-q] [-h] [-v] [--json]` and `admin
set-quota | set-space-quota | clear-quota | clear-space-quota`.

Registered by minidfs/cli/main.py (count on the root group, the rest on `admin`).
Thin layers over Client.count / set_quota / ... (docs/quotas.md). count prints
HDFS's columns in HDFS's widths, so scripts written for `hdfs dfs -count -q` keep
working:

  QUOTA REM_QUOTA SPACE_QUOTA REM_SPACE_QUOTA DIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME
"""
from __future__ import annotations

from typing import Any

import click

from minidfs import errors
from minidfs.cli import format as fmt
from minidfs.cli.common import reports_errors, state
from minidfs.sizes import parse_size

_QUOTA_FORMAT = "{:>12} {:>15} "            # QuotaUsage's "%12s %15s "
_SPACE_QUOTA_FORMAT = "{:>15} {:>15} "      # "%15s %15s "
_SUMMARY_FORMAT = "{:>12} {:>12} {:>18} "   # ContentSummary's "%12s %12s %18s "
_QUOTA_HEADER = ("QUOTA", "REM_QUOTA", "SPACE_QUOTA", "REM_SPACE_QUOTA")
_SUMMARY_HEADER = ("DIR_COUNT", "FILE_COUNT", "CONTENT_SIZE")
_PREFIXES = "KMGTPE"


def human(n: int) -> str:
    """HDFS's -h: TraditionalBinaryPrefix.long2String(n, "", 1): 512, 1.5 K, 128 M."""
    if abs(n) < 1024:
        return str(n)
    exponent = 0
    value = abs(n)
    while value >= 1024 and exponent < len(_PREFIXES):
        value /= 1024
        exponent += 1
    unit = 1024 ** exponent
    text = str(abs(n) // unit) if abs(n) % unit == 0 else f"{abs(n) / unit:.1f}"
    return f"{'-' if n < 0 else ''}{text} {_PREFIXES[exponent - 1]}"


def count_line(c: dict[str, Any], quotas: bool, human_sizes: bool) -> str:
    size = human if human_sizes else str
    line = ""
    if quotas:
        if c["quota"] is None:
            names, names_left = "none", "inf"
        else:
            names, names_left = size(c["quota"]), size(c["remaining_quota"])
        if c["space_quota"] is None:
            space, space_left = "none", "inf"
        else:
            space, space_left = size(c["space_quota"]), size(c["remaining_space_quota"])
        line = (_QUOTA_FORMAT.format(names, names_left)
                + _SPACE_QUOTA_FORMAT.format(space, space_left))
    line += _SUMMARY_FORMAT.format(size(c["directories"]), size(c["files"]), size(c["length"]))
    return line + fmt.escape_name(c["path"])


def header_line(quotas: bool) -> str:
    line = ""
    if quotas:
        line = (_QUOTA_FORMAT.format(*_QUOTA_HEADER[:2])
                + _SPACE_QUOTA_FORMAT.format(*_QUOTA_HEADER[2:]))
    return line + _SUMMARY_FORMAT.format(*_SUMMARY_HEADER) + "PATHNAME"


@click.command()
@click.option("-q", "quotas", is_flag=True, help="Also the quotas and what remains of them.")
@click.option("-h", "human_sizes", is_flag=True, help="Sizes and counts as 1.5 K, 128 M.")
@click.option("-v", "header", is_flag=True, help="A header line first.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON array of objects (quotas null where none).")
@click.argument("path", nargs=-1, required=True)
@reports_errors
def count(quotas: bool, human_sizes: bool, header: bool, as_json: bool,
          path: tuple[str, ...]) -> None:
    """Count the directories, files and bytes under each PATH (with -q its quotas)."""
    client = state().client()
    results = [client.count(p) for p in path]
    if as_json:
        click.echo(fmt.to_json(results))
        return
    if header:
        click.echo(header_line(quotas))
    for c in results:
        click.echo(count_line(c, quotas, human_sizes))


@click.command("set-quota")
@click.argument("quota", metavar="N")
@click.argument("path", nargs=-1, required=True)
@reports_errors
def set_quota(quota: str, path: tuple[str, ...]) -> None:
    """Limit each directory PATH to N names (files and directories, itself included).
    Superusers only; allowed below the current count, which then cannot grow."""
    try:
        names = int(quota)
    except ValueError:
        raise errors.InvalidArgument(f"{quota}: the quota must be a positive integer") from None
    client = state().client()
    for p in path:
        client.set_quota(p, names)


@click.command("set-space-quota")
@click.argument("size")
@click.argument("path", nargs=-1, required=True)
@reports_errors
def set_space_quota(size: str, path: tuple[str, ...]) -> None:
    """Limit each directory PATH to SIZE bytes of replicas (1G of 3-way files holds
    about 341M of data; the block being written counts as a whole block)."""
    size_bytes = parse_size(size)
    client = state().client()
    for p in path:
        client.set_space_quota(p, size_bytes)


@click.command("clear-quota")
@click.argument("path", nargs=-1, required=True)
@reports_errors
def clear_quota(path: tuple[str, ...]) -> None:
    """Remove the namespace quota of each PATH (the space quota stays, as HDFS's -clrQuota)."""
    client = state().client()
    for p in path:
        client.clear_quota(p)


@click.command("clear-space-quota")
@click.argument("path", nargs=-1, required=True)
@reports_errors
def clear_space_quota(path: tuple[str, ...]) -> None:
    """Remove the space quota of each PATH."""
    client = state().client()
    for p in path:
        client.clear_space_quota(p)


COMMANDS = [count]
ADMIN_COMMANDS = [set_quota, set_space_quota, clear_quota, clear_space_quota]
