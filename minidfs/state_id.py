"""Client state ids: the txid a client has seen, carried beside every NameNode call. Pure.

HDFS-12943's consistency protocol, in one place (docs/observers.md). Every reply of
the active NameNode carries, in the trailing call metadata STATE_KEY, the last txid
its journal has committed; the client keeps the highest it has seen and sends it
with every call. An observer NameNode answers a read only once it has applied that
txid (state_guard.py waits a bounded time, then redirects the client to the active),
so a client never reads a namespace older than one it has already seen: its own
writes included.

On the wire a state id is "<cluster_id>:<txid>" (cluster_id from cluster.toml's
[cluster] table, written by `cluster up`; "" for a cluster made before it existed),
so a state id carried over from another cluster is refused instead of being taken
for a txid of this one. Used by the NameNode's state guard and by the client's
NamenodeClient; no gRPC here.
"""
from __future__ import annotations

from dataclasses import dataclass

from minidfs.errors import StateIdError

STATE_KEY = "minidfs-state-id"
# Calls an observer serves: HDFS's @ReadOnly calls of ClientProtocol that read the
# namespace and block map (the calls a reader makes), never writes nor admin state.
OBSERVER_READS = frozenset({"GetFileInfo", "ListStatus", "GetBlockLocations",
                            "GetContentSummary", "Fsck"})
MAX_STATE_ID_CHARS = 128


@dataclass(frozen=True)
class StateId:
    cluster_id: str
    txid: int

    def encode(self) -> str:
        return f"{self.cluster_id}:{self.txid}"


def parse(text: str) -> StateId:
    """The StateId of a wire value; StateIdError when it is not one."""
    if not isinstance(text, str) or len(text) > MAX_STATE_ID_CHARS:
        raise StateIdError("malformed state id")
    cluster_id, sep, txid = text.rpartition(":")
    if not sep or not txid.isdigit() or not txid.isascii():
        raise StateIdError(f"malformed state id {text!r} (want CLUSTER:TXID)")
    return StateId(cluster_id, int(txid))


def check_cluster(client: StateId, cluster_id: str) -> None:
    """Refuses a state id from another cluster (either side without an id: no check)."""
    if client.cluster_id and cluster_id and client.cluster_id != cluster_id:
        raise StateIdError(f"state id from cluster {client.cluster_id!r}, but this is "
                           f"cluster {cluster_id!r}: it was not seen here")


def check_not_future(client: StateId, newest_txid: int, who: str) -> None:
    """Refuses a txid beyond everything this cluster has committed. `newest_txid` is
    the active's last applied txid: every committed edit is applied there (a new
    active recovers them all before it serves), so a larger one was never seen."""
    if client.txid > newest_txid:
        raise StateIdError(f"state id txid {client.txid} is ahead of {who}'s last txid "
                           f"{newest_txid}: it comes from another namespace (or a "
                           "reformatted cluster), not from this one")


def merge(seen: int, reply_value: str | None, cluster_id: str) -> int:
    """The client's new highest txid after a reply's state id (ignored when absent,
    malformed or from another cluster: a client never moves backwards)."""
    if not reply_value:
        return seen
    try:
        state = parse(reply_value)
    except StateIdError:
        return seen
    if state.cluster_id and cluster_id and state.cluster_id != cluster_id:
        return seen
    return max(seen, state.txid)
