"""Edit record types: every namespace change the NameNode makes, as plain dicts.

Namespace operations (namespace.py) validate and return these; `Namespace.apply`
is the only code that mutates the tree, for live operations and for replay alike.
The namesystem adds the "txid" key when it logs a record, and editlog_format.py
frames it (msgpack) on disk. A record carries everything replay needs (times,
block ids, genstamps, lengths): replay never reads the clock or allocates ids.

Keys are short because they are written once per edit and kept on disk.
"""
from __future__ import annotations

from typing import Any

Record = dict[str, Any]

MKDIRS = "MKDIRS"                  # path, mtime, owner, perm, dperm; creates missing ancestors too
CREATE = "CREATE"                  # path, repl, bsize, client, mtime, owner, perm, dperm
                                   # (replaces an existing file)
ADD_BLOCK = "ADD_BLOCK"            # path, id, gs: a new under-construction last block
COMMIT_BLOCK = "COMMIT_BLOCK"      # path, id, gs, len: the client agreed on the length
ABANDON_BLOCK = "ABANDON_BLOCK"    # path, id: drop the under-construction last block
SET_GENSTAMP = "SET_GENSTAMP"      # path, id, gs: pipeline recovery bumped the genstamp
CLOSE = "CLOSE"                    # path, lens, mtime: final lengths of every block
DELETE = "DELETE"                  # path, mtime (the parent's new mtime)
RENAME = "RENAME"                  # src, dst (the final path), mtime
SET_REPLICATION = "SET_REPLICATION"  # path, repl
SET_TIMES = "SET_TIMES"            # path, mtime: a user set the modification time (WebHDFS SETTIMES)
SET_PERMISSION = "SET_PERMISSION"  # path, perm
SET_OWNER = "SET_OWNER"            # path, owner and/or group (an absent key: unchanged)
# Append (docs/append.md): a closed file is under construction again, leased to
# `client`; gs > 0 reopens its last block (not full) under that new genstamp.
APPEND = "APPEND"                  # path, client, gs
# hflush / hsync: the last block (under construction) holds at least len bytes
# (HDFS's fsync with UPDATE_LENGTH): readers and lease recovery keep them.
UPDATE_LENGTH = "UPDATE_LENGTH"    # path, id, len
SET_QUOTA = "SET_QUOTA"            # path, nsq, ssq: a directory's namespace and space quotas
                                   # after the change (-1: none; quota.py)
# Not the tree, but durable cluster state all the same: an admin asked that DataNode
# `name` leave service (decommission, on=True) or come back (on=False). Logged so it
# survives a restart and reaches the standby, like HDFS's exclude file on every NameNode.
SET_DATANODE_EXCLUDED = "SET_DN_EXCLUDED"  # name, on

# "owner", "perm" (the new inode's mode) and "dperm" (the mode of ancestors the record
# creates on the way) of MKDIRS / CREATE came with permissions: a record written before
# has none, and replay gives the inode the NameNode's user, the superuser group and
# 0755 / 0644 (namespace.py). The group is never logged: it is the parent's (HDFS's rule).

# Optional key of the first record of a client call that carried an RpcId:
# [client_id, call_id]. Replay and a tailing standby rebuild the retry cache from it
# (retry_cache.py), so a retry answered after a failover is not applied twice.
RPC = "rpc"

ALL_OPS = frozenset({
    MKDIRS, CREATE, ADD_BLOCK, COMMIT_BLOCK, ABANDON_BLOCK, SET_GENSTAMP, CLOSE,
    DELETE, RENAME, SET_REPLICATION, SET_DATANODE_EXCLUDED, SET_PERMISSION, SET_OWNER,
    SET_TIMES, APPEND, UPDATE_LENGTH, SET_QUOTA,
})


def _with_permission(record: Record, owner: str | None, perm: int, dperm: int) -> Record:
    if owner is not None:
        record.update(owner=owner, perm=perm, dperm=dperm)
    return record


def mkdirs(path: str, mtime_ms: int, owner: str | None = None, perm: int = 0o755,
           dperm: int = 0o755) -> Record:
    return _with_permission({"op": MKDIRS, "path": path, "mtime": mtime_ms}, owner, perm, dperm)


def create(path: str, replication: int, block_size: int, client: str, mtime_ms: int,
           owner: str | None = None, perm: int = 0o644, dperm: int = 0o755) -> Record:
    return _with_permission({"op": CREATE, "path": path, "repl": replication,
                             "bsize": block_size, "client": client, "mtime": mtime_ms},
                            owner, perm, dperm)


def add_block(path: str, block_id: int, genstamp: int) -> Record:
    return {"op": ADD_BLOCK, "path": path, "id": block_id, "gs": genstamp}


def commit_block(path: str, block_id: int, genstamp: int, length: int) -> Record:
    return {"op": COMMIT_BLOCK, "path": path, "id": block_id, "gs": genstamp, "len": length}


def abandon_block(path: str, block_id: int) -> Record:
    return {"op": ABANDON_BLOCK, "path": path, "id": block_id}


def set_genstamp(path: str, block_id: int, genstamp: int) -> Record:
    return {"op": SET_GENSTAMP, "path": path, "id": block_id, "gs": genstamp}


def close(path: str, lengths: list[int], mtime_ms: int) -> Record:
    return {"op": CLOSE, "path": path, "lens": list(lengths), "mtime": mtime_ms}


def append(path: str, client: str, genstamp: int) -> Record:
    return {"op": APPEND, "path": path, "client": client, "gs": genstamp}


def update_length(path: str, block_id: int, length: int) -> Record:
    return {"op": UPDATE_LENGTH, "path": path, "id": block_id, "len": length}


def delete(path: str, mtime_ms: int) -> Record:
    return {"op": DELETE, "path": path, "mtime": mtime_ms}


def rename(src: str, dst: str, mtime_ms: int) -> Record:
    return {"op": RENAME, "src": src, "dst": dst, "mtime": mtime_ms}


def set_replication(path: str, replication: int) -> Record:
    return {"op": SET_REPLICATION, "path": path, "repl": replication}


def set_times(path: str, mtime_ms: int) -> Record:
    return {"op": SET_TIMES, "path": path, "mtime": mtime_ms}


def set_datanode_excluded(name: str, on: bool) -> Record:
    return {"op": SET_DATANODE_EXCLUDED, "name": name, "on": on}


def set_permission(path: str, mode: int) -> Record:
    return {"op": SET_PERMISSION, "path": path, "perm": mode}


def set_owner(path: str, owner: str | None, group: str | None) -> Record:
    record: Record = {"op": SET_OWNER, "path": path}
    if owner is not None:
        record["owner"] = owner
    if group is not None:
        record["group"] = group
    return record


def set_quota(path: str, names_quota: int, space_quota: int) -> Record:
    return {"op": SET_QUOTA, "path": path, "nsq": names_quota, "ssq": space_quota}
