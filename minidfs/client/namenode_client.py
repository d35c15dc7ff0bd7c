"""Calls to the NameNode(s): deadlines, error translation, failover, honest outcomes.

Used by Client, the output/input streams, the DataNode-facing tools and the
JobTracker. `call("Mkdirs", request)` sends a ClientNamenode RPC to the current
NameNode; when it is unreachable or answers "standby" the next configured
NameNode is tried, with backoff, for up to `wait_s` in all (cluster.toml's
client_failover_wait_s: long enough to ride a failover and a short JournalNode
quorum blip). Every other error comes back as the matching minidfs exception
(FileExists, FileNotFound, ...).

A request with an `rpc_id` field (Create, Delete, Rename, Mkdirs) gets this
client's id and a fresh call id once, before its first attempt; every retry sends
the same id, so a NameNode that already applied the call (possibly the other one,
before a failover) answers from its retry cache instead of applying it twice or
failing with "file exists" / "no such file".

Outcomes (docs/outcomes.md): a failed attempt of a mutation that may have been
applied (rpc/status.py `may_have_applied`: deadline passed, connection lost after
sending, the journal failed after the NameNode's local append) makes the call's
outcome uncertain. A later retry that succeeds settles it (ok); when the retries
run out, or a retry is refused outright, the call raises OutcomeUnknownError -
never the refusal, which would claim nothing happened.

Throttling (docs/throttling.md): a NameNode that refuses a call because its user is
over their rate or concurrency (errors.Throttled, RESOURCE_EXHAUSTED) did nothing, so
the call is sent again to the same NameNode after at least the server's retry-after
hint, with capped exponential backoff and full jitter (rpc/backoff.py), within the
same `wait_s` deadline on the whole call. The refusal never makes an outcome
uncertain; an earlier attempt that may have applied still does (and the retry keeps
its retry-cache id).

Every call carries `user` as call metadata (minidfs/identity.py): the NameNode
checks permissions against it.

State ids (docs/observers.md, HDFS-12943): every answer carries the answering
NameNode's state id; the client keeps the highest txid it has seen (`state_txid`)
and sends it with every call once it has one. With `observers`, the calls they
serve go to them first (observer_reads.py), after one Msync on the first such read
so the client starts from the active's latest state; when none answers, to the
active as usual.
"""
from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from typing import Any, Callable, Sequence

import grpc

from minidfs import errors, identity, state_id
from minidfs.client.observer_reads import ObserverRouter
from minidfs.config import Settings
from minidfs.state_id import OBSERVER_READS
from minidfs.rpc import channels, client_namenode_pb2, client_namenode_pb2_grpc
from minidfs.rpc.backoff import Backoff
from minidfs.rpc.status import from_rpc_error, may_have_applied

log = logging.getLogger("minidfs.client.namenode")

# How long a call keeps trying to find an active NameNode (the default of
# cluster.toml's client_failover_wait_s): an HA failover takes a lease (3 s) plus
# the take-over, and a JournalNode restart a few seconds more.
DEFAULT_WAIT_S = Settings.client_failover_wait_s
# The pause between passes over the NameNode list stays about 0.1 s (full jitter
# under a 0.2 s cap, rpc/backoff.py, so clients that lost the same active do not come
# back in step): a call to a dead or standby NameNode fails in milliseconds, and a
# longer sleep only delays the first write after the new active is up (measured:
# with a 1 s cap, writes landed only at 2.85 or 3.85 s after the kill).
FAILOVER_BACKOFF_S = 0.1
FAILOVER_BACKOFF_CAP_S = 0.2
# A throttled call (errors.Throttled) waits at least the server's retry-after hint,
# with capped exponential backoff and full jitter, until the call's deadline (wait_s).
THROTTLE_BACKOFF_BASE_S = 0.05
THROTTLE_BACKOFF_CAP_S = 2.0
# `on_wait` is called once a call has been failing over for this long.
WAIT_NOTICE_AFTER_S = 1.0
# An attempt late in the wait still gets this long, however little of it is left.
MIN_ATTEMPT_DEADLINE_S = 1.0
# Calls that change the namespace (or a file under construction): only these can
# have an unknown outcome; a read that failed changed nothing.
MUTATIONS = frozenset({
    "Mkdirs", "Create", "Delete", "Rename", "SetReplication", "AddBlock", "AbandonBlock",
    "Complete", "UpdateBlockForPipeline", "Decommission", "TransitionToStandby",
    "SetPermission", "SetOwner", "SetQuota", "Append", "Fsync", "RecoverLease",
})
PATH_FIELDS = ("path", "src")
# Answers that deny the change (like a refusal): after an attempt that may have
# applied it they prove nothing - the retry cache may have lost the first attempt.
DENIALS: dict[str, Callable[[Any], bool]] = {"Delete": lambda response: not response.deleted}


def _trailing_value(call: Any, key: str) -> str | None:
    for k, v in call.trailing_metadata() or ():
        if k == key:
            return v
    return None


class OutcomeUnknownInterrupt(KeyboardInterrupt):
    """Ctrl-C while a change was out (or after an attempt that may have applied it):
    it may or may not have happened. The shell prints the message (exit 130)."""


def _subject(request: Any) -> str:
    """"PATH: " for a request about a path (the prefix of its outcome messages)."""
    subject = next((getattr(request, f) for f in PATH_FIELDS
                    if f in request.DESCRIPTOR.fields_by_name and getattr(request, f)), "")
    return f"{subject}: " if subject else ""


class NamenodeClient:
    def __init__(self, addresses: Sequence[str], deadline_s: float = channels.METADATA_DEADLINE_S,
                 failover_passes: int | None = None, wait_s: float = DEFAULT_WAIT_S,
                 user: str | None = None, observers: Sequence[str] = (),
                 cluster_id: str = "",
                 observer_wait_s: float = Settings.observer_read_wait_s) -> None:
        if not addresses:
            raise errors.ConfigError("no NameNode address configured")
        self.user = identity.current_user(user)
        self._metadata = ((identity.METADATA_KEY, self.user),)
        self.addresses = list(addresses)
        self.deadline_s = deadline_s
        self.failover_passes = failover_passes   # None: as many as wait_s allows
        self.wait_s = wait_s
        # Called (no arguments) when a call has waited WAIT_NOTICE_AFTER_S for an
        # active NameNode: the shell says so on stderr.
        self.on_wait: Callable[[], None] | None = None
        self._current = 0
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}
        self._stubs: dict[str, client_namenode_pb2_grpc.ClientNamenodeStub] = {}
        self.client_id = secrets.token_hex(8)
        self._call_ids = itertools.count(1)
        self._failover_backoff = Backoff(FAILOVER_BACKOFF_S, FAILOVER_BACKOFF_CAP_S)
        self._throttle_backoff = Backoff(THROTTLE_BACKOFF_BASE_S, THROTTLE_BACKOFF_CAP_S)
        self.cluster_id = cluster_id
        self.state_txid = 0           # the highest txid any answer carried
        self.observers = ObserverRouter(observers, observer_wait_s) if observers else None
        self._msynced = False

    def _stub(self, address: str) -> client_namenode_pb2_grpc.ClientNamenodeStub:
        with self._lock:
            stub = self._stubs.get(address)
            if stub is None:
                channel = channels.sync_channel(address)
                self._channels[address] = channel
                stub = self._stubs[address] = client_namenode_pb2_grpc.ClientNamenodeStub(channel)
            return stub

    @property
    def current_address(self) -> str:
        return self.addresses[self._current]

    def call(self, method: str, request: Any, deadline_s: float | None = None) -> Any:
        """Sends one ClientNamenode RPC, failing over between NameNodes when needed.
        Raises OutcomeUnknownError when a mutation may have been applied but no
        attempt could say so; OutcomeUnknownInterrupt for a Ctrl-C at such a time."""
        self._tag(request)
        if self.observers is not None and method in OBSERVER_READS:
            if not self._msynced:
                self.msync()
            answer = self.observers.read(method, request, self._invoke)
            if answer is not None:
                return answer[0]
        maybe_applied = [False]
        try:
            return self._call(method, request, deadline_s or self.deadline_s, maybe_applied)
        except KeyboardInterrupt:
            if maybe_applied[0]:
                raise OutcomeUnknownInterrupt(
                    f"{_subject(request)}outcome unknown: interrupted while {method} "
                    "may have been applied") from None
            raise

    def _call(self, method: str, request: Any, timeout: float, maybe_applied: list[bool]) -> Any:
        mutation = method in MUTATIONS
        started = time.monotonic()
        give_up = started + self.wait_s
        last: dict[str, errors.MinidfsError] = {}
        uncertain: errors.MinidfsError | None = None   # an attempt that may have applied
        noticed = False
        index = self._current
        moves = 0        # attempts that moved on along the NameNode list
        throttled = 0    # throttled refusals in a row (the backoff's exponent)
        while True:
            address = self.addresses[index]
            attempt_s = min(timeout, max(give_up - time.monotonic(), MIN_ATTEMPT_DEADLINE_S))
            maybe_applied[0] = mutation   # while an attempt is out, it may be applied
            try:
                response, _ = self._invoke(address, method, request, attempt_s)
            except grpc.RpcError as e:
                err = from_rpc_error(e)
                if mutation and uncertain is None and may_have_applied(e):
                    uncertain = err
                maybe_applied[0] = uncertain is not None
                if isinstance(err, errors.Throttled):
                    # Refused before anything was done: wait as told and ask the same
                    # NameNode again (the other one is a standby) until the deadline.
                    self._current = index
                    remaining_s = give_up - time.monotonic()
                    if remaining_s <= 0:
                        if uncertain is not None:
                            raise self._unknown(method, request, uncertain, err) from None
                        raise errors.Throttled(f"{err} (still throttled after "
                                               f"{self.wait_s:g} s)", err.retry_after_s) from None
                    time.sleep(self._throttle_backoff.pause_s(throttled, err.retry_after_s,
                                                              remaining_s))
                    throttled += 1
                    noticed = self._notice(noticed, started)
                    continue
                if not isinstance(err, errors.Unavailable):
                    self._current = index
                    if uncertain is not None:
                        raise self._unknown(method, request, uncertain, err) from None
                    raise err from None
                last[address] = err
            else:
                self._current = index
                denied = DENIALS.get(method)
                if uncertain is not None and denied is not None and denied(response):
                    raise self._unknown(method, request, uncertain,
                                        errors.MinidfsError("the retry changed nothing"))
                if uncertain is not None:
                    log.info("%s%s settled ok by a retry after an attempt that may have "
                             "applied it (%s)", _subject(request), method, uncertain)
                return response
            throttled = 0
            moves += 1
            index = (index + 1) % len(self.addresses)
            if moves % len(self.addresses) == 0:
                passes_done = moves // len(self.addresses)
                if self.failover_passes is not None and passes_done >= self.failover_passes:
                    why = f"no NameNode could tell in {passes_done} pass(es) over the NameNodes"
                    break
                if time.monotonic() >= give_up:
                    why = f"no active NameNode could tell within {self.wait_s:g} s"
                    break
                time.sleep(self._failover_backoff.pause_s(passes_done - 1))
            noticed = self._notice(noticed, started)
        answers = "; ".join(f"{address}: {err}" for address, err in last.items())
        if uncertain is not None:
            raise self._unknown(method, request, uncertain, why)
        kinds = {type(err) for err in last.values()}
        # Every NameNode said "standby": keep that class (callers may tell it apart).
        cls = kinds.pop() if len(kinds) == 1 else errors.Unavailable
        raise cls(f"no active NameNode answered {method}: {answers}")

    def _notice(self, noticed: bool, started: float) -> bool:
        """Tells on_wait (once) that this call has been waiting a while."""
        if not noticed and self.on_wait is not None \
                and time.monotonic() - started >= WAIT_NOTICE_AFTER_S:
            self.on_wait()
            return True
        return noticed

    def _invoke(self, address: str, method: str, request: Any, timeout_s: float) -> tuple[Any, Any]:
        """One attempt at one NameNode, with this client's state id; keeps the
        answer's. Raises grpc.RpcError."""
        metadata = self._metadata
        txid = self.state_txid
        if txid or (self.observers is not None and method in OBSERVER_READS):
            metadata += ((state_id.STATE_KEY, state_id.StateId(self.cluster_id, txid).encode()),)
        response, call = getattr(self._stub(address), method).with_call(
            request, timeout=timeout_s, metadata=metadata)
        self.saw_state(_trailing_value(call, state_id.STATE_KEY))
        return response, call

    def saw_state(self, value: str | None) -> None:
        """Takes in a state id ("cluster:txid") an answer carried or another client
        passed on; the client's txid only grows."""
        if value:
            with self._lock:
                self.state_txid = state_id.merge(self.state_txid, value, self.cluster_id)

    def advance_state(self, value: str) -> None:
        """Like saw_state for a state id a caller hands over: a malformed one, or one
        from another cluster, raises StateIdError here; one from the future is refused
        by the NameNode on the next call."""
        state = state_id.parse(value)
        state_id.check_cluster(state, self.cluster_id)
        with self._lock:
            self.state_txid = max(self.state_txid, state.txid)

    @property
    def state(self) -> str:
        """This client's state id, "cluster:txid", to hand to another client."""
        return state_id.StateId(self.cluster_id, self.state_txid).encode()

    def msync(self) -> client_namenode_pb2.MsyncResponse:
        """Brings the state id up to the active's last committed txid (HDFS's msync):
        later reads from observers see everything committed before this call."""
        response = self._call("Msync", client_namenode_pb2.MsyncRequest(), self.deadline_s, [False])
        with self._lock:
            self.state_txid = max(self.state_txid, response.txid)
        self._msynced = True
        return response

    @staticmethod
    def _unknown(method: str, request: Any, cause: errors.MinidfsError,
                 then: errors.MinidfsError | str) -> errors.OutcomeUnknownError:
        """cause: the attempt that may have applied it; then: what came after."""
        later = f"then {then}" if isinstance(then, errors.MinidfsError) else then
        return errors.OutcomeUnknownError(
            f"{_subject(request)}outcome unknown: {method} may have been applied: {cause}; {later}")

    def _tag(self, request: Any) -> None:
        """Gives a non-idempotent request its retry-cache id (once: retries keep it)."""
        if ("rpc_id" in request.DESCRIPTOR.fields_by_name
                and not request.rpc_id.client_id):
            with self._lock:
                call_id = next(self._call_ids)
            request.rpc_id.CopyFrom(client_namenode_pb2.RpcId(client_id=self.client_id,
                                                              call_id=call_id))

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
            self._stubs.clear()
