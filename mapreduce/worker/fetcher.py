"""The reduce side of the shuffle: fetch this partition of every map's output.

Used by a reduce attempt's task process (task.py). It asks the JobTracker which map
outputs are ready and where, fetches each one's partition from the Worker holding it
(a server-streaming RPC) into a local run file and checks its length, record count and
checksum. A fetch that receives nothing for FETCH_STALL_S is cancelled (a stopped
Worker still accepts connections but never answers) and retried FETCH_RETRIES times
with backoff; then the failure is reported to the JobTracker, which re-runs the map
elsewhere, and the reducer keeps polling until every map's output is in. A map re-run after it was fetched does not
matter: its output is the same. Channels to Workers come from the task's Client's
channel pool (minidfs/rpc/channel_pool.py): reused across map outputs, dropped
after a failed fetch, never closed on the reducer's path.
"""
from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time
from typing import Callable

import grpc
import xxhash

from mapreduce.merge import Run
from mapreduce.rpc import jobtracker_pb2 as jt_pb
from mapreduce.rpc import worker_pb2 as pb
from mapreduce.rpc import worker_pb2_grpc
from mapreduce.runfile import Segment
from minidfs.errors import ChecksumError, MinidfsError, Unavailable
from minidfs.rpc import channels
from minidfs.rpc.channel_pool import ChannelPool
from minidfs.rpc.status import from_rpc_error

log = logging.getLogger("mapreduce.fetcher")

FETCH_PARALLELISM = 4
FETCH_RETRIES = 3
FETCH_BACKOFF_S = 0.3
FETCH_DEADLINE_S = 600.0
FETCH_STALL_S = 3.0
POLL_INTERVAL_S = 0.3


class AttemptKilled(Exception):
    """The JobTracker no longer wants this attempt (killed, job over)."""


class Fetcher:
    def __init__(self, jobtracker, job_id: str, attempt_id: str, partition: int,
                 scratch_dir: str, keepalive: Callable[[float], None], pool: ChannelPool) -> None:
        self._jt = jobtracker
        self._job_id = job_id
        self._attempt_id = attempt_id
        self._partition = partition
        self._scratch_dir = scratch_dir
        self._keepalive = keepalive
        self._pool = pool
        self.bytes_fetched = 0

    def fetch_all(self, num_maps: int) -> list[Run]:
        """The partition of every map output, as local runs in map order."""
        fetched: dict[int, Run] = {}
        with concurrent.futures.ThreadPoolExecutor(FETCH_PARALLELISM) as pool:
            while len(fetched) < num_maps:
                outputs = self._jt.GetMapOutputs(
                    jt_pb.MapOutputsRequest(job_id=self._job_id, reduce_attempt_id=self._attempt_id),
                    timeout=channels.METADATA_DEADLINE_S)
                if not outputs.attempt_alive:
                    raise AttemptKilled(f"{self._attempt_id}: no longer wanted by the JobTracker")
                todo = [loc for loc in outputs.ready if loc.map_index not in fetched]
                futures = {pool.submit(self._fetch_with_retries, loc): loc for loc in todo}
                for future in concurrent.futures.as_completed(futures):
                    loc = futures[future]
                    try:
                        fetched[loc.map_index] = future.result()
                    except MinidfsError as e:
                        self._report_failure(loc, str(e))
                    self._keepalive(len(fetched) / max(1, num_maps))
                if len(fetched) < num_maps:
                    self._keepalive(len(fetched) / max(1, num_maps))
                    time.sleep(POLL_INTERVAL_S)
        return [fetched[i] for i in range(num_maps)]

    def _fetch_with_retries(self, loc: jt_pb.MapOutputLocation) -> Run:
        backoff = FETCH_BACKOFF_S
        for attempt in range(FETCH_RETRIES):
            try:
                return self._fetch(loc)
            except MinidfsError as e:
                log.warning("fetch of %s from %s failed (%d/%d): %s", loc.map_attempt_id,
                            loc.worker_address, attempt + 1, FETCH_RETRIES, e)
                if isinstance(e, Unavailable):
                    self._pool.forget(loc.worker_address)   # the retry connects afresh
                if attempt + 1 == FETCH_RETRIES:
                    raise
                time.sleep(backoff)
                backoff *= 2
        raise AssertionError("unreachable")

    def _fetch(self, loc: jt_pb.MapOutputLocation) -> Run:
        with self._pool.lease(loc.worker_address) as lease:
            return self._fetch_on(worker_pb2_grpc.ShuffleStub(lease.channel), loc)

    def _fetch_on(self, stub: worker_pb2_grpc.ShuffleStub, loc: jt_pb.MapOutputLocation) -> Run:
        path = os.path.join(self._scratch_dir, f"map-{loc.map_index:06d}.run")
        request = pb.FetchRequest(job_id=self._job_id, map_attempt_id=loc.map_attempt_id,
                                  partition=self._partition)
        digest = xxhash.xxh3_64()
        header: pb.FetchChunk | None = None
        received = 0
        call = stub.FetchPartition(request, timeout=FETCH_DEADLINE_S)
        watchdog = _Watchdog(call.cancel, FETCH_STALL_S)
        try:
            with open(path, "wb") as f:
                for chunk in call:
                    watchdog.reset()
                    if header is None:
                        header = chunk
                    f.write(chunk.data)
                    digest.update(chunk.data)
                    received += len(chunk.data)
        except grpc.RpcError as e:
            if watchdog.fired:
                raise Unavailable(f"{loc.worker_address}: no data for {FETCH_STALL_S:g} s") from None
            raise from_rpc_error(e) from None
        finally:
            watchdog.stop()
        if header is None or received != header.length or digest.intdigest() != header.checksum:
            raise ChecksumError(f"{loc.map_attempt_id} partition {self._partition}: "
                                f"fetched data does not match its checksum")
        self.bytes_fetched += received
        return path, Segment(0, received, header.records, header.checksum)

    def _report_failure(self, loc: jt_pb.MapOutputLocation, error: str) -> None:
        self._jt.ReportFetchFailure(jt_pb.FetchFailure(
            job_id=self._job_id, map_index=loc.map_index, map_attempt_id=loc.map_attempt_id,
            reduce_attempt_id=self._attempt_id, error=error[:1000]),
            timeout=channels.METADATA_DEADLINE_S)


class _Watchdog:
    """Calls `expire` unless reset() comes at least every `interval_s` seconds."""

    def __init__(self, expire: Callable[[], object], interval_s: float) -> None:
        self._expire = expire
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._deadline = time.monotonic() + interval_s
        self._stopped = threading.Event()
        self.fired = False
        threading.Thread(target=self._run, daemon=True).start()

    def reset(self) -> None:
        with self._lock:
            self._deadline = time.monotonic() + self._interval_s

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(min(0.2, self._interval_s)):
            with self._lock:
                expired = time.monotonic() > self._deadline
            if expired:
                self.fired = True
                self._expire()
                return
