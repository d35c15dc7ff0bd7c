"""Which volume (data dir) takes a new replica. Pure.

Called by storage.py's `create`. HDFS's AvailableSpaceVolumeChoosingPolicy in
its simplest form: the healthy volume with the most room left once the unwritten
rest of every block already being written to it is set aside, so disks of
different sizes fill at the same pace; volumes with equal room (several data
dirs on one file system, as in a local cluster) take turns, so their replicas
spread evenly instead of piling onto the first.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VolumeRoom:
    index: int            # position of the volume in the node's data_dirs
    free_bytes: int       # what the file system has left for it
    reserved_bytes: int   # the unwritten rest of the blocks being written to it


def choose(volumes: list[VolumeRoom], needed_bytes: int, turn: int) -> int | None:
    """The index of the volume for a new replica of up to needed_bytes, or None when
    no volume has that much room. `turn` (a counter the caller advances per choice)
    breaks ties between volumes with the same room."""
    fitting = [v for v in volumes if v.free_bytes - v.reserved_bytes >= needed_bytes]
    if not fitting:
        return None
    best = max(v.free_bytes - v.reserved_bytes for v in fitting)
    tied = sorted(v.index for v in fitting if v.free_bytes - v.reserved_bytes == best)
    return tied[turn % len(tied)]
