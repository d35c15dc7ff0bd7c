"""More `hdfs dfs` commands: cp head touchz test getmerge checksum find.

Registered on the root group by minidfs/cli/main.py; each is a thin layer over
minidfs/client/dfs_extra.py. Errors are the shell's one line and exit 1; usage
errors (a missing argument, `test` with two flags) exit 2. `test` prints nothing:
its answer is the exit status (0 true, 1 false), as `hdfs dfs -test`.
"""
from __future__ import annotations

import click

from minidfs import errors
from minidfs.cli import format as fmt
from minidfs.cli.common import reports_errors, state
from minidfs.client import dfs_extra


@click.command()
@click.option("-f", "--force", is_flag=True, help="Replace existing destination files.")
@click.argument("src", nargs=-1, required=True)
@click.argument("dst")
@reports_errors
def cp(force: bool, src: tuple[str, ...], dst: str) -> None:
    """Copy files or directories within the cluster: SRC... to DST (into DST when it
    is a directory; several sources need a directory)."""
    client = state().client()
    if len(src) > 1:
        target = dfs_extra.info_or_none(client, client.resolve(dst))
        if target is None or target["type"] != "directory":
            raise errors.NotADirectory(f"{client.resolve(dst)}: not a directory "
                                       "(several sources copy into a directory)")
    for one in src:
        dfs_extra.copy(client, one, dst, overwrite=force)


@click.command()
@click.argument("path")
@reports_errors
def head(path: str) -> None:
    """Print the first 1 KiB of a file."""
    out = click.get_binary_stream("stdout")
    out.write(dfs_extra.head(state().client(), path))
    out.flush()


@click.command()
@click.argument("path", nargs=-1, required=True)
@reports_errors
def touchz(path: tuple[str, ...]) -> None:
    """Create empty files (an existing empty file is fine, a non-empty one an error)."""
    client = state().client()
    for p in path:
        dfs_extra.touchz(client, p)


@click.command("test")
@click.option("-e", "exists", is_flag=True, help="PATH exists.")
@click.option("-d", "is_dir", is_flag=True, help="PATH is a directory.")
@click.option("-f", "is_file", is_flag=True, help="PATH is a file.")
@click.option("-z", "is_empty", is_flag=True, help="PATH has length zero.")
@click.argument("path")
@click.pass_context
@reports_errors
def test_command(ctx: click.Context, exists: bool, is_dir: bool, is_file: bool, is_empty: bool,
                 path: str) -> None:
    """Exit 0 if PATH passes the one test given (-e, -d, -f or -z), else 1; prints nothing."""
    flags = [f for f, on in zip(dfs_extra.TEST_FLAGS, (exists, is_dir, is_file, is_empty)) if on]
    if len(flags) != 1:
        raise click.UsageError("give exactly one of -e, -d, -f, -z", ctx)
    ctx.exit(0 if dfs_extra.test(state().client(), flags[0], path) else 1)


@click.command()
@click.option("-nl", "--nl", "newline", is_flag=True, help="Add a newline after each file.")
@click.argument("src")
@click.argument("local")
@reports_errors
def getmerge(newline: bool, src: str, local: str) -> None:
    """Concatenate the files of directory SRC (by name) into the local file LOCAL."""
    dfs_extra.getmerge(state().client(), src, local, newline=newline)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of objects.")
@click.argument("path", nargs=-1, required=True)
@reports_errors
def checksum(as_json: bool, path: tuple[str, ...]) -> None:
    """Print each file's checksum: MD5 of its blocks' MD5s of the stored chunk checksums."""
    client = state().client()
    results = [dfs_extra.checksum(client, p) for p in path]
    if as_json:
        click.echo(fmt.to_json(results))
        return
    for r in results:
        click.echo(f"{fmt.escape_name(r['path'])}\t{r['algorithm']}\t{r['checksum']}")


@click.command()
@click.option("-name", "--name", "name", default="*", show_default=True,
              help="Glob the last path component must match (*, ?, [...]).")
@click.option("-type", "--type", "kind", type=click.Choice(["f", "d"]),
              help="Only files (f) or directories (d).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of entries.")
@click.argument("path", default="/")
@reports_errors
def find(name: str, kind: str | None, as_json: bool, path: str) -> None:
    """Print every path at or below PATH whose name matches -name."""
    found = dfs_extra.find(state().client(), path, name, kind)
    if as_json:
        click.echo(fmt.to_json(list(found)))
        return
    for entry in found:
        click.echo(fmt.escape_name(entry["path"]))


COMMANDS = [cp, head, touchz, test_command, getmerge, checksum, find]
