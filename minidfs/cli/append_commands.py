"""`minidfs append`, `minidfs tail [-f]` and `minidfs admin recover-lease`: the
shell's side of append, hflush and leases (docs/append.md).

Registered by minidfs/cli/main.py (append and tail on the root group,
recover-lease on the admin group). Each is a thin layer over minidfs.Client:
Client.append, Client.open + info for tail (a file being written shows its
hflushed length), Client.recover_lease.
"""
from __future__ import annotations

import os
import time

import click

from minidfs import errors
from minidfs.cli.common import reports_errors, state

TAIL_BYTES = 1024                 # `hdfs dfs -tail`: the last kilobyte
TAIL_FOLLOW_INTERVAL_S = 1.0      # how often -f looks for new bytes
RECOVER_LEASE_POLL_S = 0.5
RECOVER_LEASE_WAIT_DEFAULT_S = 60.0


@click.command()
@click.argument("local")
@click.argument("remote")
@reports_errors
def append(local: str, remote: str) -> None:
    """Append LOCAL (a file, or - for stdin) to REMOTE, creating it if missing."""
    client = state().client()
    if local == "-":
        client.append(click.get_binary_stream("stdin"), remote)
        return
    if os.path.isdir(local):
        raise errors.IsADirectory(f"{local}: is a directory (append takes a file)")
    client.append(local, remote)


@click.command()
@click.option("-f", "--follow", is_flag=True,
              help="Keep printing bytes as they are appended (or hflushed); Ctrl-C stops.")
@click.argument("path")
@reports_errors
def tail(follow: bool, path: str) -> None:
    """Print the last kilobyte of PATH (a file being written: up to what its writer
    flushed)."""
    client = state().client()
    out = click.get_binary_stream("stdout")
    path = client.resolve(path)
    info = client.info(path)
    if info["type"] == "directory":
        raise errors.IsADirectory(f"{path}: is a directory")
    offset = _copy_from(client, path, max(0, info["length"] - TAIL_BYTES), out)
    if not follow:
        return
    try:
        while True:
            time.sleep(TAIL_FOLLOW_INTERVAL_S)
            length = client.info(path)["length"]
            if length < offset:
                raise errors.PreconditionFailed(f"{path}: file shrank to {length} bytes")
            if length > offset:
                offset = _copy_from(client, path, offset, out)
    except KeyboardInterrupt:
        return


def _copy_from(client, path: str, offset: int, out) -> int:
    """Writes the file's bytes from offset on to out; the offset reached."""
    with client.open(path, "rb") as f:
        f.seek(offset)
        while True:
            data = f.read(1024 * 1024)
            if not data:
                break
            out.write(data)
            offset += len(data)
    out.flush()
    return offset


@click.command("recover-lease")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=RECOVER_LEASE_WAIT_DEFAULT_S,
              show_default=True, help="Seconds to wait for the file to be closed.")
@click.argument("path")
@reports_errors
def recover_lease(wait_s: float, path: str) -> None:
    """Recover the lease of PATH now: close a file whose writer is gone, keeping every
    byte it flushed (HDFS's `debug recoverLease`)."""
    client = state().client()
    path = client.resolve(path)
    deadline = time.monotonic() + wait_s
    while not client.recover_lease(path):
        if time.monotonic() >= deadline:
            raise errors.PreconditionFailed(
                f"{path}: lease recovery started, the file is not closed yet "
                "(a DataNode holding its last block may be down); run it again later")
        time.sleep(RECOVER_LEASE_POLL_S)
    click.echo(f"recover-lease: {path}: closed")
