"""The directory scanner: every `directory_scan_interval_s`, each volume is checked
(volume.py `check`: a failing one is taken out of service) and its finalized files
are compared with the replica map both ways (disk_diff.py). What it finds:

- a replica whose block file is gone: taken out of the map and reported lost
  (the NameNode drops it and re-replicates the block);
- a missing meta file, a block or meta file of the wrong length: the replica is
  marked corrupt and named in ReportBadBlocks (the NameNode replaces it, then
  orders it deleted);
- a block file with its meta that the map does not know (restored from a backup,
  copied in by hand): loaded like at start-up and reported received, or corrupt.

Started by datanode/server.py; listing and checks run in a thread. Block reports
are built from the replica map, so after a pass they tell the truth about the
disk; the block scanner (block_scanner.py) is the slow, byte-reading half.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from minidfs.datanode import disk_diff
from minidfs.datanode.storage import Replica, Storage

log = logging.getLogger("minidfs.datanode.dirscan")


class DirectoryScanner:
    def __init__(self, storage: Storage, interval_s: float,
                 on_corrupt: Callable[[list[Replica]], Awaitable[None]],
                 on_adopted: Callable[[Replica], None]) -> None:
        self.storage = storage
        self.interval_s = interval_s
        self.on_corrupt = on_corrupt
        self.on_adopted = on_adopted

    async def run(self) -> None:
        if self.interval_s <= 0:
            return
        while True:
            await asyncio.sleep(self.interval_s)
            await self.scan()

    async def scan(self) -> dict[str, int]:
        """One pass over every healthy volume; counts of what was done, by outcome."""
        counts = {"lost": 0, "corrupt": 0, "adopted": 0}
        corrupt: list[Replica] = []
        for volume in self.storage.healthy_volumes():
            why = await asyncio.to_thread(volume.check)
            if why is None:
                known, elsewhere = self.storage.known_finalized(volume)
                try:
                    disk = await asyncio.to_thread(volume.list_finalized)
                except OSError as e:
                    why = await asyncio.to_thread(volume.check) or f"{volume.finalized_dir}: cannot list: {e}"
            if why is not None:
                await asyncio.to_thread(self.storage.fail_volume, volume, why)
                continue
            for finding in disk_diff.diff(disk, known, elsewhere):
                outcome = await asyncio.to_thread(self.storage.apply_finding, volume, finding)
                if outcome is None:
                    continue
                kind, replica = outcome
                counts[kind] += 1
                if kind == "corrupt":
                    corrupt.append(replica)
                elif kind == "adopted":
                    self.on_adopted(replica)
        if corrupt:
            await self.on_corrupt(corrupt)
        if any(counts.values()):
            log.info("directory scan: %d lost, %d corrupt, %d adopted replicas",
                     counts["lost"], counts["corrupt"], counts["adopted"])
        return counts
