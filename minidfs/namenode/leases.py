"""Leases: which client is writing which files, and when it was last heard from. Pure.

Owned by the namesystem. A lease belongs to a client name and covers every file
that client has under construction (the files are inode objects, so a rename
does not disturb the lease). The client renews it (RenewLease, or any write
call). `expired(now_ms)` lists leases silent for longer than the hard limit: the
namesystem recovers their files (closes them with what the DataNodes reported,
logged as edits). Past the soft limit, another client may take a file over.
"""
from __future__ import annotations

from minidfs.namenode.inode import INodeFile


class Lease:
    __slots__ = ("holder", "last_renewed_ms", "files", "client_node")

    def __init__(self, holder: str, now_ms: int) -> None:
        self.holder = holder
        self.last_renewed_ms = now_ms
        self.files: set[INodeFile] = set()
        # The DataNode on the writer's host (from Create), for placing its blocks;
        # not persisted: after a restart its blocks are placed like anyone's.
        self.client_node: str | None = None


class LeaseManager:
    def __init__(self, soft_limit_ms: int, hard_limit_ms: int) -> None:
        self.soft_limit_ms = soft_limit_ms
        self.hard_limit_ms = hard_limit_ms
        self.leases: dict[str, Lease] = {}

    def add(self, holder: str, file: INodeFile, now_ms: int) -> None:
        lease = self.leases.get(holder)
        if lease is None:
            lease = self.leases[holder] = Lease(holder, now_ms)
        lease.files.add(file)
        lease.last_renewed_ms = now_ms

    def set_client_node(self, holder: str, client_node: str) -> None:
        lease = self.leases.get(holder)
        if lease is not None and client_node:
            lease.client_node = client_node

    def client_node(self, holder: str) -> str | None:
        lease = self.leases.get(holder)
        return lease.client_node if lease is not None else None

    def remove(self, holder: str, file: INodeFile) -> None:
        lease = self.leases.get(holder)
        if lease is None:
            return
        lease.files.discard(file)
        if not lease.files:
            del self.leases[holder]

    def open_files(self, holder: str) -> int:
        lease = self.leases.get(holder)
        return len(lease.files) if lease is not None else 0

    def renew(self, holder: str, now_ms: int) -> None:
        lease = self.leases.get(holder)
        if lease is not None:
            lease.last_renewed_ms = now_ms

    def renew_all(self, now_ms: int) -> None:
        """A fresh period for every writer: the NameNode could not hear from them (it
        was paused, or has just become active), so their silence proves nothing."""
        for lease in self.leases.values():
            lease.last_renewed_ms = now_ms

    def soft_expired(self, holder: str, now_ms: int) -> bool:
        lease = self.leases.get(holder)
        return lease is None or now_ms - lease.last_renewed_ms > self.soft_limit_ms

    def expired(self, now_ms: int) -> list[tuple[str, INodeFile]]:
        """(holder, file) for every file whose lease passed the hard limit."""
        return [(lease.holder, file) for lease in self.leases.values()
                if now_ms - lease.last_renewed_ms > self.hard_limit_ms
                for file in lease.files]

    def files_under_construction(self) -> int:
        return sum(len(lease.files) for lease in self.leases.values())
