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

MKDIRS = "MKDIRS"                  # path, mtime; creates missing ancestors too
CREATE = "CREATE"                  # path, repl, bsize, client, mtime (replaces an existing file)
ADD_BLOCK = "ADD_BLOCK"            # path, id, gs: a new under-construction last block
COMMIT_BLOCK = "COMMIT_BLOCK"      # path, id, gs, len: the client agreed on the length
ABANDON_BLOCK = "ABANDON_BLOCK"    # path, id: drop the under-construction last block
SET_GENSTAMP = "SET_GENSTAMP"      # path, id, gs: pipeline recovery bumped the genstamp
CLOSE = "CLOSE"                    # path, lens, mtime: final lengths of every block
DELETE = "DELETE"                  # path, mtime (the parent's new mtime)
RENAME = "RENAME"                  # src, dst (the final path), mtime
SET_REPLICATION = "SET_REPLICATION"  # path, repl
SET_TIMES = "SET_TIMES"            # path, mtime: a user set the modification time (WebHDFS SETTIMES)
# Not the tree, but durable cluster state all the same: an admin asked that DataNode
# `name` leave service (decommission, on=True) or come back (on=False). Logged so it
# survives a restart and reaches the standby, like HDFS's exclude file on every NameNode.
SET_DATANODE_EXCLUDED = "SET_DN_EXCLUDED"  # name, on

# Optional key of the first record of a client call that carried an RpcId:
# [client_id, call_id]. Replay and a tailing standby rebuild the retry cache from it
# (retry_cache.py), so a retry answered after a failover is not applied twice.
RPC = "rpc"

ALL_OPS = frozenset({
    MKDIRS, CREATE, ADD_BLOCK, COMMIT_BLOCK, ABANDON_BLOCK, SET_GENSTAMP, CLOSE,
    DELETE, RENAME, SET_REPLICATION, SET_DATANODE_EXCLUDED,
    SET_TIMES,
})


def mkdirs(path: str, mtime_ms: int) -> Record:
    return {"op": MKDIRS, "path": path, "mtime": mtime_ms}


def create(path: str, replication: int, block_size: int, client: str, mtime_ms: int) -> Record:
    return {"op": CREATE, "path": path, "repl": replication, "bsize": block_size,
            "client": client, "mtime": mtime_ms}


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
