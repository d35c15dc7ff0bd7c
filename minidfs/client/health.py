"""Cluster health as plain dicts: fsck, the DataNode report, decommission, safe mode.

Used by `minidfs fsck` / `minidfs admin ...` (minidfs/cli/fsck_command.py,
admin_commands.py), by `minidfs cluster status` (which DataNodes the NameNode
sees live) and by tests. Each function makes one NameNode RPC through a
NamenodeClient (deadline, failover) and returns the dicts the shell prints with
--json; the formats are in docs/recovery.md.
"""
from __future__ import annotations

from typing import Any

from minidfs import errors
from minidfs.client.namenode_client import NamenodeClient
from minidfs.config import ClusterConfig
from minidfs.rpc import client_namenode_pb2 as pb

# fsck of a big tree walks every block on the NameNode: allow it more than a
# metadata call.
FSCK_DEADLINE_S = 60.0
# `cluster status` must answer even when the NameNode is down or hung.
STATE_PROBE_DEADLINE_S = 2.0
FSCK_COUNT_KEYS = ("files", "directories", "blocks", "total_bytes", "under_replicated",
                   "over_replicated", "mis_replicated", "missing", "corrupt", "open_files",
                   "live_datanodes", "dead_datanodes", "racks")


def fsck(nn: NamenodeClient, path: str = "/", *, files: bool = False, blocks: bool = False,
         locations: bool = False, max_files: int = 0) -> dict[str, Any]:
    """{"path", "status", "healthy", "files", "blocks", "under_replicated", "missing",
    "corrupt", ..., "open_file_details": [{"path", "client", "since": epoch ms}],
    "notes": [why something stays as it is]}; with files=True also "file_details" (blocks and locations
    included as asked) and "truncated"."""
    blocks = blocks or locations
    files = files or blocks
    reply = nn.call("Fsck", pb.FsckRequest(path=path, list_files=files, max_files=max_files),
                    deadline_s=FSCK_DEADLINE_S)
    result: dict[str, Any] = {"path": reply.path, "status": reply.status, "healthy": reply.healthy}
    result.update({key: getattr(reply, key) for key in FSCK_COUNT_KEYS})
    result["open_file_details"] = [{"path": f.path, "client": f.client, "since": f.since_ms}
                                   for f in reply.open_file_details]
    result["notes"] = list(reply.notes)
    if files:
        result["file_details"] = [_file(f, blocks, locations) for f in reply.file_details]
        result["truncated"] = reply.truncated
    return result


def _file(f: pb.FsckFile, blocks: bool, locations: bool) -> dict[str, Any]:
    problems = sorted({p for b in f.blocks for p in b.problems})
    entry: dict[str, Any] = {
        "path": f.path, "length": f.length, "replication": f.replication,
        "under_construction": f.under_construction, "block_count": len(f.blocks),
        "problems": problems,
    }
    if blocks:
        entry["blocks"] = [_block(b, locations) for b in f.blocks]
    return entry


def _block(b: pb.FsckBlock, locations: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": b.block.id, "genstamp": b.block.genstamp, "length": b.block.length,
        "expected": b.expected, "live": b.live, "problems": list(b.problems),
    }
    if locations:
        entry["replicas"] = [{"datanode": r.datanode, "state": r.state, "rack": r.rack}
                             for r in b.replicas]
    return entry


def datanode_report(nn: NamenodeClient) -> list[dict[str, Any]]:
    """One dict per DataNode the NameNode knows, sorted by name."""
    reply = nn.call("DatanodeReport", pb.DatanodeReportRequest())
    return [{
        "name": n.id.name, "address": n.id.address, "rack": n.id.rack, "state": n.state,
        "capacity": n.capacity, "used": n.used, "remaining": n.remaining,
        "last_contact_s": round(n.last_contact_ms / 1000, 1), "blocks": n.blocks,
        "active_transfers": n.active_transfers, "replica_states": dict(sorted(n.replica_states.items())),
        "volumes": [{"path": v.path, "failure": v.failure, "replicas": v.replicas,
                     "capacity": v.capacity, "remaining": v.remaining} for v in n.volumes],
        "failed_volumes": sum(1 for v in n.volumes if v.failure),
    } for n in reply.nodes]


def report(nn: NamenodeClient) -> dict[str, Any]:
    """The whole `admin report`: cluster totals and every DataNode."""
    stats = nn.call("GetStats", pb.GetStatsRequest())
    return {
        "capacity": stats.capacity, "used": stats.used, "remaining": stats.remaining,
        "live_datanodes": stats.live_datanodes, "dead_datanodes": stats.dead_datanodes,
        "files": stats.files, "blocks": stats.blocks, "under_replicated": stats.under_replicated,
        "missing": stats.missing, "corrupt": stats.corrupt, "safe_mode": stats.safe_mode,
        "datanodes": datanode_report(nn),
    }


def decommission(nn: NamenodeClient, name: str, cancel: bool = False) -> str:
    """Starts (or cancels) decommissioning DataNode `name`; its state afterwards."""
    return nn.call("Decommission", pb.DecommissionRequest(name=name, cancel=cancel)).state


def safe_mode(nn: NamenodeClient, action: str) -> dict[str, Any]:
    """action: "get", "enter" or "leave"; {"on", "reason"}."""
    reply = nn.call("SafeMode", pb.SafeModeRequest(
        action=pb.SafeModeRequest.Action.Value(action.upper())))
    return {"on": reply.on, "reason": reply.reason}


def datanode_states(conf: ClusterConfig) -> dict[str, str] | None:
    """How the NameNode sees each DataNode (live, dead, decommissioning, ...), asked
    with a short deadline; None when no NameNode answers. For `cluster status`."""
    nn = NamenodeClient([n.address for n in conf.namenodes], deadline_s=STATE_PROBE_DEADLINE_S,
                        failover_passes=1)
    try:
        return {n["name"]: n["state"] for n in datanode_report(nn)}
    except errors.MinidfsError:
        return None
    finally:
        nn.close()
