"""The journal interface: where the NameNode's edit log lives. The seam HA plugs into.

The namesystem (namesystem.py) talks only to this interface. Two implementations:
file_journal.FileJournal (local segments, single NameNode, built) and a quorum
journal over JournalNodes (HA, to be built against this same interface).

Life cycle, as the NameNode drives it:

    journal.recover()            # once at start-up: make the log readable; returns the
                                 # last txid it holds (cut a torn tail; a quorum journal
                                 # takes a new epoch and recovers unfinished segments)
    for txid, rec in journal.read_edits(checkpoint_txid + 1): apply(rec)
    await journal.open(last_applied_txid)   # start writing at last_applied_txid + 1
    journal.append(txid, frame)  # many times, no I/O: buffers one encoded record
    await journal.sync(txid)     # durable up to txid (group commit)
    await journal.roll()         # finalize the current segment at a checkpoint
    journal.purge(upto_txid)     # drop finalized segments wholly <= upto_txid
    await journal.close()        # graceful stop: sync and finalize

Contract every implementation keeps:
- txids are consecutive, starting at 1; append refuses anything but last + 1.
- sync(txid) returns only when every record <= txid is durable (fsynced locally, or
  on a majority of JournalNodes), and many concurrent sync calls share one flush.
  A failed flush raises JournalError from sync and every later call: the NameNode
  must stop rather than answer clients about edits that may be lost.
- read_edits raises EditLogCorrupt for damage anywhere but a torn tail, and for a
  gap in txids.
"""
from __future__ import annotations

import abc
from typing import Any, Iterator

from minidfs.errors import MinidfsError


class JournalError(MinidfsError):
    """The journal could not make edits durable; the NameNode must stop."""


class Journal(abc.ABC):
    @abc.abstractmethod
    def recover(self) -> int:
        """Makes the stored log consistent (cuts a torn tail) and returns the last
        txid it holds (0 when empty). Raises EditLogCorrupt."""

    @abc.abstractmethod
    def read_edits(self, from_txid: int) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yields (txid, record) for every stored record with txid >= from_txid, in
        order, with no gaps. Raises EditLogCorrupt."""

    @abc.abstractmethod
    async def open(self, last_applied_txid: int) -> None:
        """Starts a new segment for writing; the next append is last_applied_txid + 1."""

    @abc.abstractmethod
    def append(self, txid: int, frame: bytes) -> None:
        """Buffers one encoded record (editlog_format.encode). No I/O."""

    @abc.abstractmethod
    async def sync(self, txid: int) -> None:
        """Returns once every appended record up to txid is durable."""

    @abc.abstractmethod
    async def roll(self) -> None:
        """Syncs, finalizes the current segment and starts the next one."""

    @abc.abstractmethod
    def purge(self, upto_txid: int) -> None:
        """Deletes finalized segments whose last txid is <= upto_txid."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Syncs and finalizes; the journal cannot be written afterwards."""

    @property
    @abc.abstractmethod
    def last_txid(self) -> int:
        """The last txid appended (durable or not)."""

    @property
    @abc.abstractmethod
    def synced_txid(self) -> int:
        """The last txid known durable."""
