"""The trash's layout and policy (HDFS's TrashPolicyDefault), pure: no I/O, no clock.

Used by the client (minidfs/client/trash_ops.py: `rm` moves into the trash,
`expunge`) and by the NameNode's emptier (minidfs/namenode/trash_emptier.py), so
both read the same names the same way.

    /user/<user>/.Trash/Current/<the deleted path>    what `rm` moved, as it was
    /user/<user>/.Trash/<yyMMddHHmmss>/...            a checkpoint: Current renamed

Every checkpoint interval the emptier renames each user's Current to a checkpoint
named after the time (UTC), and deletes the checkpoints older than the trash
interval, so a removed file stays recoverable for at least `trash_interval_s` and
at most that plus the checkpoint interval.
"""
from __future__ import annotations

import calendar
import time
from typing import Callable, Iterable

from minidfs import paths

USER_DIR = "/user"
TRASH = ".Trash"
CURRENT = "Current"
CHECKPOINT_FORMAT = "%y%m%d%H%M%S"        # HDFS's checkpoint names, to the second
CHECKPOINT_CHARS = 12
TRASH_DIR_MODE = 0o700                    # HDFS makes the trash owner-only


def root(user: str) -> str:
    return f"{USER_DIR}/{user}/{TRASH}"


def current(user: str) -> str:
    return f"{root(user)}/{CURRENT}"


def in_trash(path: str, user: str) -> bool:
    """True if path is the user's trash or inside it (removing it is for real)."""
    return paths.is_under(path, root(user))


def contains_trash(path: str, user: str) -> bool:
    """True if moving path would move the trash itself (/user/<user>, /user, /)."""
    return paths.is_under(root(user), path) and path != root(user)


def target(path: str, user: str) -> str:
    """Where path goes in the trash (before making it unique)."""
    return current(user) + path


def unique_target(wanted: str, taken: Callable[[str], bool], now_ms: int) -> str:
    """HDFS appends the time in ms to a name already taken in Current; `taken(name)`
    says whether a name is (the client asks the NameNode, one name at a time)."""
    name, stamp = wanted, now_ms
    while taken(name):
        name = f"{wanted}{stamp}"
        stamp += 1
    return name


def checkpoint_name(now_ms: int) -> str:
    return time.strftime(CHECKPOINT_FORMAT, time.gmtime(now_ms // 1000))


def checkpoint_time_ms(name: str) -> int | None:
    """The time a checkpoint's name stands for; None for a name that is not one
    (HDFS leaves those alone). A suffix "-N" (a second checkpoint within one
    second) is allowed."""
    stamp = name.split("-", 1)[0]
    if len(stamp) != CHECKPOINT_CHARS or not stamp.isdigit():
        return None
    try:
        parsed = time.strptime(stamp, CHECKPOINT_FORMAT)
    except ValueError:
        return None
    return calendar.timegm(parsed) * 1000


def new_checkpoint(children: Iterable[str], now_ms: int) -> str:
    """A checkpoint name free among a trash root's children."""
    taken = set(children)
    base = name = checkpoint_name(now_ms)
    attempt = 1
    while name in taken:
        name = f"{base}-{attempt}"
        attempt += 1
    return name


def expired(children: Iterable[str], now_ms: int, interval_ms: int) -> list[str]:
    """Checkpoints among a trash root's children older than interval_ms."""
    old = []
    for name in children:
        when = checkpoint_time_ms(name)
        if when is not None and now_ms - when >= interval_ms:
            old.append(name)
    return sorted(old)
