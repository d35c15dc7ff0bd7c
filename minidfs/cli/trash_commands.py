"""The trash in the `minidfs` shell: how `rm` moves into it, and `expunge`.

`rm` itself stays in fs_commands.py and calls move_to_trash here; `expunge` is
registered on the root group by minidfs/cli/main.py. Both are thin layers over
Client.trash / Client.expunge (minidfs/client/trash_ops.py; docs/trash.md).
"""
from __future__ import annotations

import click

from minidfs import errors
from minidfs.cli import format as fmt
from minidfs.cli.common import reports_errors, state


def move_to_trash(client, path: str) -> bool:
    """rm's first step: True (and a line saying where) when path went to the trash;
    False when it is to be deleted for real (trash off, or already in the trash)."""
    try:
        moved = client.trash(path)
    except (errors.FileNotFound, errors.InvalidArgument, errors.OutcomeUnknownError):
        raise
    except errors.MinidfsError as e:
        # As HDFS: the move failed, nothing was deleted, and the way out is named.
        raise type(e)(f"Failed to move to trash: {path}: {e}; "
                      "consider using --skip-trash") from None
    if moved is None:
        return False
    click.echo(f"Moved: '{fmt.escape_name(path)}' to trash at: {fmt.escape_name(moved)}")
    return True


@click.command()
@click.option("--immediate", "-immediate", "immediate", is_flag=True,
              help="Delete everything in your trash now, Current included.")
@reports_errors
def expunge(immediate: bool) -> None:
    """Delete your trash checkpoints older than trash_interval_s and make Current a
    new checkpoint (what the NameNode does by itself every checkpoint interval)."""
    for line in state().client().expunge(immediate):
        click.echo(fmt.escape_name(line))


COMMANDS = [expunge]
