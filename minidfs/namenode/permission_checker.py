"""Who may do what to an inode: HDFS's FSPermissionChecker over our tree. Pure.

Called by client_ops.py before an operation validates (so a denied call changes
nothing) with the Caller the servicer built from the call's identity. The rules are
HDFS's (docs/permissions.md): the caller's class for an inode is owner if they own
it, else group if they are in its group, else other, and only that class's bits
count; a superuser passes every check. `check` takes the same four questions as
HDFS's checkPermission:

  ancestor_access  on the nearest existing inode above the path (create, mkdir)
  parent_access    on the path's parent (delete, rename source: with the sticky bit)
  access           on the inode itself (open: READ, list: READ_EXECUTE)
  sub_access       on every directory at and below the path (recursive delete)

and always EXECUTE on every existing directory on the way (traverse).
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

from minidfs import errors, paths
from minidfs.fsmode import ACTION_NAMES, EXECUTE, READ, STICKY, WRITE, mode_string
from minidfs.namenode.inode import INode, INodeDirectory

READ_EXECUTE = READ | EXECUTE
WRITE_EXECUTE = WRITE | EXECUTE


class Caller(NamedTuple):
    user: str
    groups: frozenset[str]
    is_super: bool


def describe(node: INode) -> str:
    """HDFS's inode="/a":alice:staff:drwxr-xr-x."""
    return f'"{node.path()}":{node.owner}:{node.group}:{mode_string(node.is_dir, node.mode)}'


def resolve(root: INodeDirectory, path: str) -> list[INode | None]:
    """The inodes along a valid path, root first; None for each missing component.
    A file in the middle of the path ends the walk (the rest are None)."""
    found: list[INode | None] = [root]
    node: INode | None = root
    for name in paths.components(path):
        node = node.children.get(name) if isinstance(node, INodeDirectory) else None
        found.append(node)
    return found


def allowed(caller: Caller, node: INode, access: int) -> bool:
    if caller.is_super:
        return True
    if caller.user == node.owner:
        bits = node.mode >> 6
    elif node.group in caller.groups:
        bits = node.mode >> 3
    else:
        bits = node.mode
    return bits & access == access


def _deny(caller: Caller, path: str, node: INode, access: int) -> errors.MinidfsError:
    return errors.PermissionDeniedError(
        f"{path}: permission denied: user={caller.user}, access={ACTION_NAMES[access]}, "
        f"inode={describe(node)}")


def _require(caller: Caller, path: str, node: INode | None, access: int) -> None:
    if node is not None and not allowed(caller, node, access):
        raise _deny(caller, path, node, access)


def check(caller: Caller, root: INodeDirectory, path: str, *, ancestor_access: int = 0,
          parent_access: int = 0, access: int = 0, sub_access: int = 0,
          ignore_empty_dirs: bool = False, owner: bool = False) -> None:
    """Raises PermissionDeniedError when caller may not do this to path."""
    if caller.is_super:
        return
    inodes = resolve(root, path)
    ancestor = len(inodes) - 2
    while ancestor >= 0 and inodes[ancestor] is None:
        ancestor -= 1
    for node in inodes[:ancestor + 1]:
        if node is not None and node.is_dir:
            _require(caller, path, node, EXECUTE)
    last = inodes[-1]
    parent = inodes[-2] if len(inodes) > 1 else None
    if parent_access & WRITE and parent is not None and last is not None:
        _check_sticky(caller, path, parent, last)
    if ancestor_access and len(inodes) > 1 and ancestor >= 0:
        _require(caller, path, inodes[ancestor], ancestor_access)
    if parent_access and len(inodes) > 1:
        _require(caller, path, parent, parent_access)
    if access:
        _require(caller, path, last, access)
    if sub_access and last is not None:
        for directory in _directories_below(last):
            # Deleting an empty directory needs no rights on it (HDFS's ignoreEmptyDir).
            if directory.children or not ignore_empty_dirs:
                _require(caller, directory.path(), directory, sub_access)
    if owner and last is not None:
        check_owner(caller, path, last)


def check_owner(caller: Caller, path: str, node: INode) -> None:
    if not caller.is_super and caller.user != node.owner:
        raise errors.PermissionDeniedError(
            f"{path}: permission denied: user={caller.user} is not the owner of "
            f"inode={describe(node)}")


def check_super(caller: Caller, what: str) -> None:
    if not caller.is_super:
        raise errors.PermissionDeniedError(
            f"{what}: permission denied: user={caller.user} is not a superuser")


def check_set_owner(caller: Caller, path: str, node: INode, owner: str | None,
                    group: str | None) -> None:
    """chown / chgrp of one inode (after `check(..., owner=True)`): only a superuser
    gives a file away; an owner may only pick a group they belong to."""
    if caller.is_super:
        return
    if owner is not None and owner != node.owner:
        raise errors.PermissionDeniedError(
            f"{path}: permission denied: user={caller.user} is not a superuser "
            "(only a superuser may change the owner)")
    if group is not None and group != node.group and group not in caller.groups:
        raise errors.PermissionDeniedError(
            f"{path}: permission denied: user={caller.user} does not belong to group={group}")


def _check_sticky(caller: Caller, path: str, parent: INode, child: INode) -> None:
    if not parent.mode & STICKY or caller.user in (parent.owner, child.owner):
        return
    raise errors.PermissionDeniedError(
        f"{path}: permission denied by sticky bit: user={caller.user}, "
        f"inode={describe(child)}, parent={describe(parent)}")


def _directories_below(top: INode) -> Iterator[INodeDirectory]:
    stack = [top]
    while stack:
        node = stack.pop()
        if isinstance(node, INodeDirectory):
            yield node
            stack.extend(c for c in node.children.values() if c.is_dir)
