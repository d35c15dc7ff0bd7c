"""The file commands of the `minidfs` shell: put get cat mkdir ls rm mv du df setrep
stat chmod chown chgrp.

Registered on the root group by minidfs/cli/main.py. Each is a thin layer over one
minidfs.Client call; relative DFS paths are taken from /user/<user>; --json prints
the Client's dicts as they are (the formats are in docs/shell.md).
"""
from __future__ import annotations

import os
import pathlib
import shutil
import sys

import click

from minidfs import errors
from minidfs.cli import format as fmt
from minidfs.cli import trash_commands as trash_command
from minidfs.cli.common import SIZE, progress, reports_errors, state, tree_progress
from minidfs.client import tree_copy

COPY_CHUNK_BYTES = 4 * 1024 * 1024


THREADS = click.option(
    "-t", "--threads", type=click.IntRange(min=1),
    help="Files of a directory copy in flight at once (default: client_copy_threads, 16).")


@click.command()
@click.option("-f", "--force", is_flag=True, help="Replace an existing file.")
@click.option("--replication", type=click.IntRange(min=1), help="Replicas per block.")
@click.option("--block-size", type=SIZE, help="Block size, e.g. 64KiB, 1MiB, 128M.")
@THREADS
@click.argument("local")
@click.argument("remote")
@reports_errors
def put(force: bool, replication: int | None, block_size: int | None, threads: int | None,
        local: str, remote: str) -> None:
    """Copy LOCAL (a file, a directory, or - for stdin) to REMOTE (into it, if a directory)."""
    client = state().client()
    if block_size is not None:
        # Before the Client's own check, to add the hint: a bare `64` means bytes.
        client.limits.check_block_size(block_size, client.resolve(remote), hint=True)
    if local == "-":
        client.put(click.get_binary_stream("stdin"), remote, overwrite=force,
                   replication=replication, block_size=block_size)
        return
    if os.path.isdir(local):
        files = tree_copy.local_tree(pathlib.Path(local))[1] if sys.stderr.isatty() else []
        with tree_progress(len(files), sum(size for _, size in files), f"put {local}") as line:
            client.put(local, remote, overwrite=force, replication=replication,
                       block_size=block_size, threads=threads,
                       progress=line.add_bytes if line else None,
                       files_progress=line.file_done if line else None)
        return
    size = os.path.getsize(local) if os.path.isfile(local) else None
    with progress(size, f"put {local}") as bar:
        client.put(local, remote, overwrite=force, replication=replication,
                   block_size=block_size, progress=bar)


@click.command()
@click.option("-f", "--force", is_flag=True, help="Replace an existing local file.")
@THREADS
@click.argument("remote")
@click.argument("local")
@reports_errors
def get(force: bool, threads: int | None, remote: str, local: str) -> None:
    """Copy REMOTE (a file or a directory) to LOCAL (into it, if a directory)."""
    client = state().client()
    usage = client.du(remote) if sys.stderr.isatty() else None
    if usage is not None and usage["directories"]:
        with tree_progress(usage["files"], usage["length"], f"get {remote}") as line:
            client.get(remote, local, overwrite=force, threads=threads,
                       progress=line.add_bytes if line else None,
                       files_progress=line.file_done if line else None)
        return
    with progress(usage["length"] if usage else None, f"get {remote}") as bar:
        client.get(remote, local, overwrite=force, progress=bar, threads=threads)


@click.command()
@click.argument("remote", nargs=-1, required=True)
@reports_errors
def cat(remote: tuple[str, ...]) -> None:
    """Write the contents of REMOTE files to stdout."""
    client = state().client()
    out = click.get_binary_stream("stdout")
    for path in remote:
        with client.open(path, "rb") as f:
            shutil.copyfileobj(f, out, COPY_CHUNK_BYTES)
    out.flush()


@click.command()
@click.option("-p", "--parents", is_flag=True, help="Create missing parents; no error if it exists.")
@click.argument("path", nargs=-1, required=True)
@reports_errors
def mkdir(parents: bool, path: tuple[str, ...]) -> None:
    """Create directories."""
    client = state().client()
    for p in path:
        client.mkdir(p, parents=parents)


@click.command()
@click.option("-R", "--recursive", is_flag=True, help="List every descendant.")
@click.option("-l", "long_format", is_flag=True,
              help="The long format (what ls always prints, as `hdfs dfs -ls`).")
@click.option("-h", "--human", is_flag=True, help="Lengths as 64 K, 1.5 M (hdfs dfs -ls -h).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of entries.")
@click.argument("path", default="/")
@reports_errors
def ls(recursive: bool, long_format: bool, human: bool, as_json: bool, path: str) -> None:
    """List a directory's entries (or a file itself): mode, replicas, owner, group,
    length, modified, path."""
    client = state().client()
    entries = client.ls(path, recursive=recursive)
    if as_json:
        click.echo(fmt.to_json(entries))
        return
    is_listing = not (len(entries) == 1 and entries[0]["path"] == client.resolve(path))
    for line in fmt.ls_lines(entries, header=is_listing and not recursive, human=human):
        click.echo(line)


@click.command()
@click.option("-r", "-R", "--recursive", is_flag=True, help="Delete directories and their contents.")
@click.option("--skip-trash", "-skipTrash", "skip_trash", is_flag=True,
              help="Delete at once, even when the trash is on (trash_interval_s > 0).")
@click.argument("path", nargs=-1, required=True)
@reports_errors
def rm(recursive: bool, skip_trash: bool, path: tuple[str, ...]) -> None:
    """Delete files (and directories with -r): into /user/<user>/.Trash when the
    trash is on, for real with --skip-trash or for what is in the trash already."""
    client = state().client()
    for p in path:
        p = client.resolve(p)
        if not recursive and client.info(p)["type"] == "directory":
            raise errors.IsADirectory(f"{p}: is a directory (use rm -r)")
        if not skip_trash and trash_command.move_to_trash(client, p):
            continue
        if not client.delete(p, recursive=recursive):
            raise errors.FileNotFound(f"{p}: no such file or directory")
        click.echo(f"Deleted {fmt.escape_name(p)}")


@click.command()
@click.argument("src")
@click.argument("dst")
@reports_errors
def mv(src: str, dst: str) -> None:
    """Rename SRC to DST (into DST, if it is a directory)."""
    state().client().rename(src, dst)


@click.command()
@click.option("-s", "summary", is_flag=True,
              help="One line for PATH (accepted for HDFS habits: du always summarizes).")
@click.option("-h", "--human", is_flag=True, help="Sizes as 64 K, 1.5 M.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.argument("path", default="/")
@reports_errors
def du(summary: bool, human: bool, as_json: bool, path: str) -> None:
    """Print the length and the space consumed (all replicas) under PATH."""
    usage = state().client().du(path)
    click.echo(fmt.to_json(usage) if as_json else fmt.du_line(usage, human=human))


@click.command()
@click.option("-h", "--human", is_flag=True, help="Sizes as 64 K, 1.5 G.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@reports_errors
def df(human: bool, as_json: bool) -> None:
    """Print the cluster's capacity, used and remaining bytes."""
    client = state().client()
    stats = client.df()
    if as_json:
        click.echo(fmt.to_json(stats))
        return
    for line in fmt.df_lines(stats, f"minidfs://{client.namenode.current_address}", human=human):
        click.echo(line)


@click.command()
@click.argument("replication", type=click.IntRange(min=1))
@click.argument("path")
@reports_errors
def setrep(replication: int, path: str) -> None:
    """Set the replication of a file (or of every file below a directory)."""
    client = state().client()
    client.setrep(path, replication)
    click.echo(f"Replication {replication} set: {fmt.escape_name(client.resolve(path))}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.argument("path")
@reports_errors
def stat(as_json: bool, path: str) -> None:
    """Show a file's length, replication, block size and blocks with their DataNodes."""
    info = state().client().stat(path)
    if as_json:
        click.echo(fmt.to_json(info))
        return
    for line in fmt.stat_lines(info):
        click.echo(line)


@click.command()
@click.option("-R", "--recursive", is_flag=True, help="Also everything below (all or nothing).")
@click.argument("mode")
@click.argument("path", nargs=-1, required=True)
@reports_errors
def chmod(recursive: bool, mode: str, path: tuple[str, ...]) -> None:
    """Set the mode: octal (755, 1777) or symbolic (u+x,go-w, a=rX, +t)."""
    client = state().client()
    for p in path:
        client.chmod(p, mode, recursive=recursive)


@click.command()
@click.option("-R", "--recursive", is_flag=True, help="Also everything below (all or nothing).")
@click.argument("owner_group", metavar="OWNER[:GROUP]")
@click.argument("path", nargs=-1, required=True)
@reports_errors
def chown(recursive: bool, owner_group: str, path: tuple[str, ...]) -> None:
    """Set the owner (superusers only) and optionally the group: alice, alice:staff, :staff."""
    owner, _, group = owner_group.partition(":")
    if not owner and not group:
        raise errors.InvalidArgument(f"{owner_group!r}: give OWNER, OWNER:GROUP or :GROUP")
    client = state().client()
    for p in path:
        client.chown(p, owner or None, group or None, recursive=recursive)


@click.command()
@click.option("-R", "--recursive", is_flag=True, help="Also everything below (all or nothing).")
@click.argument("group")
@click.argument("path", nargs=-1, required=True)
@reports_errors
def chgrp(recursive: bool, group: str, path: tuple[str, ...]) -> None:
    """Set the group (the owner may pick any group they belong to)."""
    client = state().client()
    for p in path:
        client.chgrp(p, group, recursive=recursive)


COMMANDS = [put, get, cat, mkdir, ls, rm, mv, du, df, setrep, stat, chmod, chown, chgrp]
