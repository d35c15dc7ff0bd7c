"""One journal's files on a JournalNode: epochs and edit log segments, durably.

Called by journal_service.py (always from a worker thread, one call at a time per
journal, under that journal's lock). journal_core.py decides; this module does the
I/O and only then updates the core, so nothing is acknowledged before it is on disk.

Layout under <data_dir>/<journal_id>/current/:
    promised_epoch                 "E"          (atomic: tmp + fsync + rename + dir fsync)
    accepted_epoch                 "E FIRST"    who vouches for in-progress segment FIRST
    edits_inprogress_<first>.log   the NameNode's record framing, fsynced before each ack
    edits_<first>-<last>.log       finalized segments
    *.stale                        in-progress segments a later writer superseded (kept for
                                   forensics, never served; purged with the log)
The segment names and framing are the NameNode's file journal's, so a segment copied
from a JournalNode is a valid local segment and vice versa.
"""
from __future__ import annotations

import errno
import logging
import os
import pathlib
import re

from minidfs.errors import DiskFull, EditLogCorrupt
from minidfs.journalnode import frames
from minidfs.journalnode.journal_core import JournalCore, StartPlan, Vouch
from minidfs.durable import fsync_dir, write_atomic
from minidfs.namenode.file_journal import finalized_name, inprogress_name
from minidfs.qjournal.segment import Segment

log = logging.getLogger("minidfs.journalnode.storage")

PROMISED_FILE = "promised_epoch"
ACCEPTED_FILE = "accepted_epoch"
STALE_SUFFIX = ".stale"
RECOVERY_SUFFIX = ".recovering"
_INPROGRESS_RE = re.compile(r"^edits_inprogress_(\d+)\.log$")
_FINALIZED_RE = re.compile(r"^edits_(\d+)-(\d+)\.log$")
# Tailers read sequentially: remember where the next txid of a segment starts so a
# read does not rescan the segment from its beginning. Bounded.
READ_CURSORS_MAX = 64


class JournalStorage:
    def __init__(self, journal_dir: pathlib.Path) -> None:
        self.dir = journal_dir / "current"
        self.core = JournalCore()
        self._out = None  # open append handle of the in-progress segment
        self._cursors: dict[tuple[int, int], int] = {}  # (segment first, txid) -> offset

    # ---- start-up ---------------------------------------------------------------------

    def load(self) -> None:
        """Reads epochs and segments; cuts a torn tail off the in-progress segment
        (it was never acknowledged); refuses (EditLogCorrupt) damage anywhere else."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.dir.glob("*" + RECOVERY_SUFFIX):
            leftover.unlink()   # a copy that crashed before its rename: never complete
        core = self.core
        core.promised_epoch = self._read_ints(PROMISED_FILE, 1, [0])[0]
        epoch, first = self._read_ints(ACCEPTED_FILE, 2, [0, 0])
        core.vouch = Vouch(first, epoch) if epoch else None
        for path in sorted(self.dir.iterdir()):
            if m := _FINALIZED_RE.match(path.name):
                first, last = int(m.group(1)), int(m.group(2))
                core.segments[first] = Segment(first, last, False)
        inprogress = sorted(int(m.group(1)) for p in self.dir.iterdir()
                            if (m := _INPROGRESS_RE.match(p.name)))
        for first in inprogress:
            path = self.dir / inprogress_name(first)
            last, valid_bytes = frames.scan_segment(path, first)
            if valid_bytes < path.stat().st_size:
                log.warning("%s: cutting a torn tail of %d bytes", path,
                            path.stat().st_size - valid_bytes)
                with open(path, "r+b") as f:
                    f.truncate(valid_bytes)
                    os.fsync(f.fileno())
            core.segments[first] = Segment(first, last, True)
        for first in inprogress[:-1]:
            self._set_aside(core.segments.pop(first))
        newest = max(core.segments, default=None)
        if inprogress and newest != inprogress[-1]:
            self._set_aside(core.segments.pop(inprogress[-1]))
        current = core.current()
        if current is not None and current.empty and core.segment_epoch(current.first_txid) == 0:
            # Nobody vouches for an empty segment: it carries nothing; drop it.
            (self.dir / inprogress_name(current.first_txid)).unlink()
            del core.segments[current.first_txid]

    def _read_ints(self, name: str, count: int, default: list[int]) -> list[int]:
        path = self.dir / name
        try:
            parts = path.read_text().split()
        except FileNotFoundError:
            return default
        if len(parts) != count or not all(p.isdigit() for p in parts):
            raise EditLogCorrupt(f"{path}: expected {count} number(s), found {parts!r}")
        return [int(p) for p in parts]

    # ---- epochs -----------------------------------------------------------------------

    def promise(self, epoch: int) -> None:
        write_atomic(self.dir / PROMISED_FILE, f"{epoch}\n".encode())
        self.core.promised_epoch = epoch

    def _vouch(self, epoch: int, first_txid: int) -> None:
        write_atomic(self.dir / ACCEPTED_FILE, f"{epoch} {first_txid}\n".encode())
        self.core.vouch = Vouch(first_txid, epoch)

    def new_epoch(self, epoch: int) -> Segment | None:
        self.core.check_new_epoch(epoch)
        self.promise(epoch)
        self._close_out()
        return self.core.last_segment()

    def admit(self, epoch: int) -> None:
        """Every writer request first: fenced if older, promised (durably) if newer."""
        if self.core.check_epoch(epoch):
            self.promise(epoch)

    # ---- writing ----------------------------------------------------------------------

    def start_segment(self, epoch: int, first_txid: int) -> None:
        self.admit(epoch)
        plan: StartPlan = self.core.plan_start(epoch, first_txid)
        self._close_out()
        for seg in plan.discard:
            self._set_aside(seg)
        path = self.dir / inprogress_name(first_txid)
        with open(path, "wb") as f:
            os.fsync(f.fileno())
        fsync_dir(self.dir)
        self._vouch(epoch, first_txid)
        self.core.on_started(epoch, first_txid, plan)

    def journal(self, epoch: int, segment_first: int, first_txid: int, num_txns: int,
                records: bytes, committed_txid: int) -> int:
        self.admit(epoch)
        self.core.check_journal(epoch, segment_first, first_txid, num_txns)
        frames.check_batch(records, first_txid, num_txns)
        if self._out is None:
            self._out = open(self.dir / inprogress_name(segment_first), "ab")
        out = self._out
        before = out.tell()
        try:
            out.write(records)
            out.flush()
            os.fsync(out.fileno())
        except OSError as e:
            # Leave no half batch behind: the next batch must follow the last acked one.
            self._close_out()
            os.truncate(self.dir / inprogress_name(segment_first), before)
            if e.errno == errno.ENOSPC:
                raise DiskFull(f"{self.dir}: no space left for the edit log") from None
            raise
        last = first_txid + num_txns - 1
        self.core.on_journaled(last, committed_txid)
        return last

    def finalize(self, epoch: int, first_txid: int, last_txid: int) -> None:
        self.admit(epoch)
        if not self.core.check_finalize(epoch, first_txid, last_txid):
            return
        self._close_out()
        src = self.dir / inprogress_name(first_txid)
        if last_txid < first_txid:
            src.unlink()
        else:
            os.replace(src, self.dir / finalized_name(first_txid, last_txid))
        fsync_dir(self.dir)
        self.core.on_finalized(first_txid)

    def _close_out(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def _set_aside(self, seg: Segment) -> None:
        path = self.dir / inprogress_name(seg.first_txid)
        log.warning("%s: superseded by a later writer, moved aside as stale", path)
        os.replace(path, path.with_name(path.name + STALE_SUFFIX))
        fsync_dir(self.dir)

    # ---- recovery ---------------------------------------------------------------------

    def install_recovered(self, epoch: int, proposal: Segment, records: bytes | None) -> None:
        """Adopts the chosen segment: `records` is its full content copied from the
        source node, or None when this node already holds exactly that segment."""
        self._close_out()
        if records is not None:
            frames.check_batch(records, proposal.first_txid, proposal.num_txns)
            target = self.dir / inprogress_name(proposal.first_txid)
            tmp = target.with_name(target.name + RECOVERY_SUFFIX)
            with open(tmp, "wb") as f:
                f.write(records)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            fsync_dir(self.dir)
            self._cursors.clear()
        mine = self.core.segments.get(proposal.first_txid)
        if mine is None or mine.in_progress:
            for seg in [s for s in self.core.segments.values()
                        if s.in_progress and s.first_txid != proposal.first_txid]:
                self._set_aside(seg)
            self._vouch(epoch, proposal.first_txid)
        self.core.on_accepted(epoch, proposal)

    # ---- catching up from peers (peer_sync.py) -----------------------------------------

    def install_finalized(self, seg: Segment, records: bytes) -> bool:
        """Adopts a finalized segment copied from a peer, when it overlaps nothing this
        node holds (checked here, under the journal's lock: a writer may have moved on
        since the copy was asked for). False when it no longer fits."""
        if seg.in_progress or seg.empty:
            return False
        if seg.first_txid in self.core.segments or any(
                not (s.last_txid < seg.first_txid or s.first_txid > seg.last_txid)
                for s in self.core.segments.values() if not s.empty):
            return False
        frames.check_batch(records, seg.first_txid, seg.num_txns)
        target = self.dir / finalized_name(seg.first_txid, seg.last_txid)
        tmp = target.with_name(target.name + RECOVERY_SUFFIX)
        with open(tmp, "wb") as f:
            f.write(records)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        fsync_dir(self.dir)
        self.core.segments[seg.first_txid] = seg
        return True

    # ---- reading ----------------------------------------------------------------------

    def segment_path(self, seg: Segment) -> pathlib.Path:
        name = inprogress_name(seg.first_txid) if seg.in_progress \
            else finalized_name(seg.first_txid, seg.last_txid)
        return self.dir / name

    def read(self, seg: Segment, since_txid: int, upto_txid: int,
             max_bytes: int) -> tuple[int, bytes]:
        """Framed records since_txid..upto_txid (at least one, then up to max_bytes)."""
        key = (seg.first_txid, since_txid)
        start = self._cursors.pop(key, None)
        with open(self.segment_path(seg), "rb") as f:
            if start is None:
                start = frames.offset_of(f, seg.first_txid, since_txid)
            f.seek(start)
            data, count = frames.read_frames(f, since_txid, upto_txid, max_bytes)
        if len(self._cursors) >= READ_CURSORS_MAX:
            self._cursors.pop(next(iter(self._cursors)))
        self._cursors[(seg.first_txid, since_txid + count)] = start + len(data)
        return count, data

    # ---- purging ----------------------------------------------------------------------

    def purge(self, epoch: int, upto_txid: int, committed_txid: int) -> int:
        self.admit(epoch)
        self.core.note_committed(committed_txid)
        doomed = self.core.plan_purge(epoch, upto_txid)
        for seg in doomed:
            self.segment_path(seg).unlink()
        for path in self.dir.glob("*" + STALE_SUFFIX):
            m = _INPROGRESS_RE.match(path.name[: -len(STALE_SUFFIX)])
            if m and int(m.group(1)) <= upto_txid:
                path.unlink()
        fsync_dir(self.dir)
        self.core.on_purged(doomed)
        self._cursors = {k: v for k, v in self._cursors.items()
                         if k[0] in self.core.segments}
        return len(doomed)

    def close(self) -> None:
        self._close_out()
