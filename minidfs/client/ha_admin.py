"""Asking the NameNodes about HA, and a graceful failover, for the shell and the launcher.

Used by `minidfs admin ha status|failover` (minidfs/cli/ha_commands.py) and by
`minidfs cluster status` (cluster/local.py) to show each NameNode's role. Unlike
NamenodeClient, which looks for *the* active NameNode, these ask every NameNode of
cluster.toml directly (GetHaStatus is answered by a standby too), with a short
deadline each, and report one that does not answer as "unreachable".
"""
from __future__ import annotations

import time
from typing import Any

import grpc

from minidfs import errors, identity
from minidfs.config import ClusterConfig
from minidfs.rpc import channels, client_namenode_pb2 as pb, client_namenode_pb2_grpc
from minidfs.rpc.status import from_rpc_error

STATUS_DEADLINE_S = 2.0
HANDOVER_DEADLINE_S = 60.0       # the active finishes its edits and finalizes its segment
FAILOVER_WAIT_S = 30.0           # for the other NameNode to become active
POLL_INTERVAL_S = 0.2
UNREACHABLE = "unreachable"


def _call(address: str, method: str, request: Any, deadline_s: float,
          user: str | None = None) -> Any:
    """One call to one NameNode; `user` (the caller, minidfs/identity.py) when the
    call needs one (a failover is a superuser's act; a status query is anyone's)."""
    metadata = ((identity.METADATA_KEY, user),) if user is not None else None
    channel = channels.sync_channel(address)
    try:
        stub = client_namenode_pb2_grpc.ClientNamenodeStub(channel)
        return getattr(stub, method)(request, timeout=deadline_s, metadata=metadata)
    except grpc.RpcError as e:
        raise from_rpc_error(e) from None
    finally:
        channel.close()


def _as_dict(status: pb.HaStatus, address: str) -> dict[str, Any]:
    return {"name": status.name, "address": address, "ha": status.ha, "role": status.role,
            "state": status.state, "epoch": status.epoch, "last_txid": status.last_txid,
            "journal_committed_txid": status.journal_committed_txid,
            "checkpoint_txid": status.checkpoint_txid, "safe_mode": status.safe_mode,
            "lease_holder": status.lease_holder,
            "lease_remaining_ms": status.lease_remaining_ms}


def ha_statuses(conf: ClusterConfig,
                deadline_s: float = STATUS_DEADLINE_S) -> list[dict[str, Any]]:
    """One dict per NameNode in cluster.toml: name, address, role (active / standby /
    unreachable), state (Primary / ActiveSecondary / IdleSecondary), epoch, last_txid,
    journal_committed_txid, checkpoint_txid, safe_mode, lease_holder, lease_remaining_ms."""
    rows = []
    for node in conf.namenodes:
        try:
            status = _call(node.address, "GetHaStatus", pb.GetHaStatusRequest(), deadline_s)
            rows.append(_as_dict(status, node.address))
        except errors.MinidfsError as e:
            rows.append({"name": node.name, "address": node.address, "role": UNREACHABLE,
                         "state": "", "error": str(e)})
    return rows


def failover(conf: ClusterConfig, wait_s: float = FAILOVER_WAIT_S,
             user: str | None = None) -> dict[str, Any]:
    """Graceful hand-over: the active becomes a standby and another NameNode takes
    over. Returns {"from", "to", "epoch", "seconds"}; raises when no NameNode is
    active, or none became active within wait_s. Only a superuser may (user: else
    $MINIDFS_USER, else the OS user)."""
    user = identity.current_user(user)
    if not conf.settings.ha:
        raise errors.PreconditionFailed("failover needs an HA cluster (ha = true)")
    started = time.monotonic()
    active = [s for s in ha_statuses(conf) if s["role"] == "active"]
    if not active:
        raise errors.Unavailable("no active namenode to fail over from")
    old = active[0]
    _call(old["address"], "TransitionToStandby", pb.TransitionToStandbyRequest(),
          HANDOVER_DEADLINE_S, user)
    deadline = started + wait_s
    while time.monotonic() < deadline:
        for status in ha_statuses(conf):
            if status["role"] == "active" and status["name"] != old["name"]:
                return {"from": old["name"], "to": status["name"], "epoch": status["epoch"],
                        "seconds": round(time.monotonic() - started, 3)}
        time.sleep(POLL_INTERVAL_S)
    raise errors.Unavailable(f"{old['name']} stepped down but no other namenode became "
                             f"active within {wait_s:g} s")


JOURNAL_COLUMNS = ("JOURNALNODE", "STATE", "EPOCH", "COMMITTED", "FIRST TXID", "LAST TXID",
                   "SEGMENTS", "LAG", "ADDRESS")


def _journal_state(address: str, deadline_s: float) -> tuple[Any, Any]:
    from minidfs.qjournal.segment import DEFAULT_JOURNAL_ID
    from minidfs.rpc import journal_pb2, journal_pb2_grpc

    channel = channels.sync_channel(address)
    try:
        stub = journal_pb2_grpc.JournalStub(channel)
        state = stub.GetJournalState(journal_pb2.GetJournalStateRequest(
            journal_id=DEFAULT_JOURNAL_ID), timeout=deadline_s)
        manifest = stub.GetEditLogManifest(journal_pb2.GetEditLogManifestRequest(
            journal_id=DEFAULT_JOURNAL_ID, since_txid=1, in_progress_ok=True), timeout=deadline_s)
        return state, manifest
    finally:
        channel.close()


def journal_lags(held: dict[str, list[tuple[int, int]]]) -> dict[str, tuple[int, str]]:
    """Pure: each answering JournalNode's (lag_txns, state) from the (first, last)
    txid ranges of the segments it holds. The window runs from the purge point to the
    newest txid anyone holds; lag = the txids in that window a node lacks. The purge
    point is the first txid a majority of the nodes holding something start at or
    before: the writer's Purge reached a majority, so a node still holding older
    segments missed it, while a node that starts later than the majority (a lost
    disk, refilled only from the next segment) lacks history the others keep."""
    nonempty = [r for r in held.values() if r]
    firsts = sorted(r[0][0] for r in nonempty)
    floor = firsts[len(firsts) // 2] if firsts else 0
    newest = max((r[-1][1] for r in nonempty), default=0)
    result = {}
    for name, ranges in held.items():
        covered = sum(max(0, min(last, newest) - max(first, floor) + 1) for first, last in ranges)
        lag = max(0, newest - floor + 1 - covered) if newest else 0
        result[name] = (lag, "empty" if not ranges and newest else ("lagging" if lag else "ok"))
    return result


def journal_statuses(conf: ClusterConfig,
                     deadline_s: float = STATUS_DEADLINE_S) -> list[dict[str, Any]]:
    """One dict per JournalNode: name, address, state ("ok", "lagging", "empty",
    "unreachable"), promised_epoch, committed_txid, first_txid, last_txid, segments,
    lag_txns - the txids from the journal's purge point (the earliest txid every
    JournalNode that answered holds) to the newest any of them holds that this one
    lacks, so both a node behind at the tail and one missing history lag."""
    rows: list[dict[str, Any]] = []
    held: dict[str, list[tuple[int, int]]] = {}
    for node in conf.journalnodes:
        row: dict[str, Any] = {"name": node.name, "address": node.address}
        try:
            state, manifest = _journal_state(node.address, deadline_s)
        except grpc.RpcError as e:
            row.update(state=UNREACHABLE, error=str(from_rpc_error(e)))
            rows.append(row)
            continue
        ranges = sorted((s.first_txid, s.last_txid) for s in manifest.segments
                        if s.last_txid >= s.first_txid)
        held[node.name] = ranges
        row.update(promised_epoch=state.promised_epoch, committed_txid=state.committed_txid,
                   first_txid=ranges[0][0] if ranges else 0,
                   last_txid=ranges[-1][1] if ranges else 0, segments=len(ranges))
        rows.append(row)
    lags = journal_lags(held)
    for row in rows:
        if row.get("state") == UNREACHABLE:
            continue
        row["lag_txns"], row["state"] = lags[row["name"]]
    return rows
