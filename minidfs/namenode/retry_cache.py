"""The retry cache: answers a retried non-idempotent call without applying it twice. Pure.

Owned by the namesystem. A client tags each Create / Delete / Rename / Mkdirs with
an RpcId (client id, call id) that stays the same across its retries (minidfs/client/
namenode_client.py). The namesystem writes the id into the first edit record of the
call (the "rpc" key, edits.py) and `Namespace.apply`'s caller records every applied
record carrying one here - live, on replay and on a standby tailing the journal - so
the NameNode that answers a retry after a failover knows the call succeeded even
though another NameNode applied it (HDFS rebuilds its retry cache from the edits the
same way). A hit returns the logged record; the caller derives its answer from it.

Bounded: at most MAX_ENTRIES, each kept ENTRY_LIFETIME_MS after it was recorded
(HDFS keeps 10 minutes); oldest first out. Only successful calls that changed the
namespace are cached: a call that failed or changed nothing is safe to run again.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, NamedTuple

from minidfs import errors

MAX_ENTRIES = 100_000
ENTRY_LIFETIME_MS = 10 * 60 * 1000
MAX_CLIENT_ID_CHARS = 64

RpcKey = tuple[str, int]


class Entry(NamedTuple):
    txid: int
    record: dict[str, Any]
    recorded_ms: int


def rpc_key(client_id: str, call_id: int) -> RpcKey | None:
    """The cache key of a request's RpcId; None when the client sent none."""
    if not client_id:
        return None
    if len(client_id) > MAX_CLIENT_ID_CHARS or not client_id.isprintable():
        raise errors.InvalidArgument(
            f"rpc id: client id must be 1 to {MAX_CLIENT_ID_CHARS} printable characters")
    if call_id <= 0:
        raise errors.InvalidArgument(f"rpc id: call id must be positive, got {call_id}")
    return client_id, call_id


class RetryCache:
    def __init__(self, max_entries: int = MAX_ENTRIES,
                 lifetime_ms: int = ENTRY_LIFETIME_MS) -> None:
        self.max_entries = max_entries
        self.lifetime_ms = lifetime_ms
        self._entries: OrderedDict[RpcKey, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, key: RpcKey, txid: int, record: dict[str, Any], now_ms: int) -> None:
        """Remembers that call `key` was applied as edit `txid`."""
        self._entries.pop(key, None)
        self._entries[key] = Entry(txid, record, now_ms)
        self._expire(now_ms)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def lookup(self, key: RpcKey, now_ms: int) -> Entry | None:
        """The entry of an already applied call, or None (run it)."""
        self._expire(now_ms)
        return self._entries.get(key)

    def entries_upto(self, txid: int) -> list[tuple[RpcKey, Entry]]:
        """The entries of edits <= txid, oldest first: an HA NameNode that steps down
        reloads its image and would otherwise forget the calls the image covers."""
        return [(key, entry) for key, entry in self._entries.items() if entry.txid <= txid]

    def restore(self, entries: list[tuple[RpcKey, Entry]]) -> None:
        """Puts back entries_upto's result (into a cache emptied by a reload)."""
        for key, entry in entries:
            self.record(key, entry.txid, entry.record, entry.recorded_ms)

    def _expire(self, now_ms: int) -> None:
        # Insertion order is recording order, so expired entries are at the front.
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if now_ms - entry.recorded_ms < self.lifetime_ms:
                return
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()
