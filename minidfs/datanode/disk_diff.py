"""What the directory scanner found: one volume's files against the replica map. Pure.

Called by directory_scanner.py with a listing of a volume's `finalized/` tree
(taken from the disk) and the finalized replicas the map places on that volume
(taken just before the listing). HDFS's DirectoryScanner, both ways:

- MISSING: the map has a finalized replica whose block file is not on disk;
- NO_META: the block file is there, its `.meta` of the replica's genstamp is not;
- WRONG_LENGTH: the block file's size is not the replica's length (truncated,
  grown, overwritten);
- WRONG_META_LENGTH: the meta file's size is not the header plus one checksum per
  chunk of the replica (truncated or overwritten);
- UNKNOWN: a block file with a meta the map does not know at all (restored from a
  backup, copied in by hand, left by an interrupted move): to be examined and
  reported.

A listing and a snapshot are never taken at the same instant, so every finding
is checked again against the live map and the file before anything is done about
it (storage.py `apply_finding`). Replicas being written, or known corrupt, are
not compared: their files are expected to change or already condemned.
"""
from __future__ import annotations

from dataclasses import dataclass

from minidfs.checksum import chunk_count
from minidfs.datanode import meta_format

MISSING = "missing"
NO_META = "no_meta"
WRONG_LENGTH = "wrong_length"
WRONG_META_LENGTH = "wrong_meta_length"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class OnDisk:
    """One block id's files in a volume's finalized tree."""
    block_bytes: int | None                  # None: no block file
    meta_bytes: dict[int, int]               # genstamp -> size of blk_<id>_<gs>.meta


@dataclass(frozen=True)
class Known:
    """A finalized replica the map places on the volume."""
    genstamp: int
    length: int
    chunk_size: int


@dataclass(frozen=True)
class Finding:
    kind: str
    block_id: int
    why: str


def expected_meta_bytes(length: int, chunk_size: int) -> int:
    return meta_format.checksum_offset(chunk_count(length, chunk_size))


def diff(disk: dict[int, OnDisk], known: dict[int, Known],
         elsewhere: set[int] = frozenset()) -> list[Finding]:
    """Findings in block id order. `elsewhere`: ids the map has on another volume or
    in another state (being written, corrupt): their files here are not unknown."""
    findings = []
    for block_id in sorted(known.keys() | disk.keys()):
        replica, files = known.get(block_id), disk.get(block_id)
        if replica is None:
            if (block_id not in elsewhere and files.block_bytes is not None
                    and files.meta_bytes):
                findings.append(Finding(UNKNOWN, block_id, "block file not in the replica map"))
            continue
        if files is None or files.block_bytes is None:
            findings.append(Finding(MISSING, block_id, "block file is missing from the disk"))
            continue
        meta_bytes = files.meta_bytes.get(replica.genstamp)
        if meta_bytes is None:
            findings.append(Finding(NO_META, block_id, "meta file is missing from the disk"))
        elif files.block_bytes != replica.length:
            findings.append(Finding(
                WRONG_LENGTH, block_id,
                f"block file has {files.block_bytes} bytes, the replica {replica.length}"))
        elif meta_bytes != expected_meta_bytes(replica.length, replica.chunk_size):
            findings.append(Finding(
                WRONG_META_LENGTH, block_id,
                f"meta file has {meta_bytes} bytes, expected "
                f"{expected_meta_bytes(replica.length, replica.chunk_size)}"))
    return findings
