"""Background re-verification of finalized replicas against their checksums.

Started by datanode/server.py. One pass reads every finalized replica at no more
than block_scanner_bytes_per_s (0 disables the scanner), then rests
SCAN_PASS_INTERVAL_S. A replica whose data no longer matches its meta is marked
CORRUPT (reads of it fail over to another node) and reported to the NameNode(s),
which re-replicate the block and order this copy deleted. A replica whose files
cannot be opened or read goes through storage.io_failed: missing files make it
lost (reported, re-replicated), a failing volume is taken out of service, and a
file that fails with a healthy volume is corrupt.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from minidfs import errors
from minidfs.checksum import first_bad_chunk
from minidfs.metrics.traffic import TRAFFIC
from minidfs.datanode.storage import Replica, ReplicaReader, Storage

log = logging.getLogger("minidfs.datanode.scanner")

SCAN_READ_BYTES = 1024 * 1024
SCAN_PASS_INTERVAL_S = 300.0
# Let a freshly started node settle (reports, first writes) before scanning.
SCAN_START_DELAY_S = 5.0


def check_range(reader: ReplicaReader, offset: int, size: int) -> str | None:
    """Why [offset, offset+size) of a replica does not match its checksums, or None.
    Blocking (file reads); offset is a chunk boundary."""
    data, checksums = reader.read(offset, size)
    if len(data) != size:
        return f"block file is shorter than {reader.length} bytes"
    bad = first_bad_chunk(data, checksums, reader.chunk_size)
    if bad is not None:
        return f"checksum mismatch in chunk {offset // reader.chunk_size + bad}"
    return None


class BlockScanner:
    def __init__(self, storage: Storage, bytes_per_s: int,
                 on_corrupt: Callable[[list[Replica]], Awaitable[None]]) -> None:
        self.storage = storage
        self.bytes_per_s = bytes_per_s
        self.on_corrupt = on_corrupt

    async def run(self) -> None:
        if self.bytes_per_s <= 0:
            return
        await asyncio.sleep(SCAN_START_DELAY_S)
        while True:
            for replica in self.storage.replicas():
                if replica.finalized:
                    await self.scan(replica)
            await asyncio.sleep(SCAN_PASS_INTERVAL_S)

    async def scan(self, replica: Replica) -> bool:
        """Verifies one replica at the configured rate; False if it was found corrupt."""
        try:
            # Off the event loop: a failing open checks the volume (storage.io_failed).
            reader = await asyncio.to_thread(self.storage.open_reader, replica.block_id,
                                             replica.genstamp)
        except errors.MinidfsError:
            return True  # deleted since the pass started, or already known bad or lost
        why = None
        step = max(reader.chunk_size, SCAN_READ_BYTES - SCAN_READ_BYTES % reader.chunk_size)
        try:
            for offset in range(0, reader.length, step):
                size = min(step, reader.length - offset)
                why = await asyncio.to_thread(check_range, reader, offset, size)
                if why is not None:
                    break
                # Pace every read so a pass never exceeds the configured rate.
                await asyncio.sleep(size / self.bytes_per_s)
        except errors.MinidfsError as e:
            why = str(e)
        except OSError as e:
            await asyncio.to_thread(self.storage.io_failed, reader.replica, e)
            return False  # lost or corrupt, and reported either way
        finally:
            reader.close()
        if why is None:
            return True
        if self.storage.mark_corrupt(replica.block_id, why) is not None:
            TRAFFIC.checksum_errors += 1
            await self.on_corrupt([replica])
        return False
