"""The DataNode's byte and checksum-error counts, updated in place on the data path.

Plain integers, not prometheus_client Counters: the write pipeline and ReadBlock
add to them once per packet, and an attribute add costs less than a Counter's lock.
The DataNode's collector (datanode.py) reads them at scrape time. One per process:
a process runs one DataNode.
"""
from __future__ import annotations


class Traffic:
    __slots__ = ("bytes_written", "bytes_read", "checksum_errors")

    def __init__(self) -> None:
        self.bytes_written = 0     # block data received and written (client and copy writes)
        self.bytes_read = 0        # block data sent to readers and copy targets
        self.checksum_errors = 0   # packets received with a bad checksum, corrupt replicas found


TRAFFIC = Traffic()
