"""Is a local cluster serving yet? Probes used by LocalCluster while it starts nodes.

A cluster serves when the NameNode answers GetStats with every configured DataNode
live and safe mode off, and every other daemon (JournalNodes, JobTracker, Workers)
says it is ready on its HTTP face's /readyz (a JournalNode with a formatted journal,
a Worker the JobTracker knows; docs/observe.md), or, without an HTTP address,
accepts connections on its gRPC address. Each probe answers either None (ready) or
(node name, what is missing), so a start-up that times out can say which node to
blame and show its log.
"""
from __future__ import annotations

import socket
import urllib.error
import urllib.request

from minidfs import errors, identity
from minidfs.client.namenode_client import NamenodeClient
from minidfs.config import ClusterConfig
from minidfs.rpc import client_namenode_pb2 as pb

PROBE_DEADLINE_S = 2.0
PORT_PROBE_TIMEOUT_S = 0.5
READYZ_TIMEOUT_S = 1.0
MAX_READYZ_ANSWER_BYTES = 1024

NotReady = tuple[str, str] | None


def port_open(address: str, timeout_s: float = PORT_PROBE_TIMEOUT_S) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except OSError:
        return False


def readyz(http_address: str, timeout_s: float = READYZ_TIMEOUT_S) -> tuple[bool, str]:
    """(ready, why) from the node's /readyz: 200 ready, 503 not (with its reason)."""
    url = f"http://{http_address}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return True, answer.read(MAX_READYZ_ANSWER_BYTES).decode(errors="replace").strip()
    except urllib.error.HTTPError as e:
        return False, e.read(MAX_READYZ_ANSWER_BYTES).decode(errors="replace").strip()
    except (OSError, ValueError) as e:
        return False, f"no HTTP answer at {http_address}: {getattr(e, 'reason', e)}"


def probe_client(conf: ClusterConfig) -> NamenodeClient:
    """A NameNode client that gives up fast: the caller polls."""
    return NamenodeClient([n.address for n in conf.namenodes], deadline_s=PROBE_DEADLINE_S,
                          failover_passes=1, user=identity.process_user())


def live_datanodes(nn: NamenodeClient) -> set[str]:
    report = nn.call("DatanodeReport", pb.DatanodeReportRequest())
    return {node.id.name for node in report.nodes if node.state == "live"}


def hdfs_not_ready(conf: ClusterConfig, nn: NamenodeClient) -> NotReady:
    first_nn = conf.namenodes[0].name
    try:
        stats = nn.call("GetStats", pb.GetStatsRequest())
        if stats.live_datanodes < len(conf.datanodes):
            live = live_datanodes(nn)
            for node in conf.datanodes:
                if node.name not in live:
                    return node.name, "not registered with the NameNode as live"
        if stats.safe_mode:
            return first_nn, "still in safe mode"
    except errors.Unavailable as e:
        return first_nn, f"NameNode not answering: {e}"
    return None


def ports_not_ready(conf: ClusterConfig, kinds: tuple[str, ...]) -> NotReady:
    for node in conf.nodes.values():
        if node.kind not in kinds:
            continue
        if node.http_address:
            ready, why = readyz(node.http_address)
            if not ready:
                return node.name, why
        elif not port_open(node.address):
            return node.name, f"not accepting connections at {node.address}"
    return None


def observers_not_ready(conf: ClusterConfig) -> NotReady:
    """Observer NameNodes serve once they applied what the JournalNodes committed."""
    for node in conf.observers:
        if node.http_address:
            ready, why = readyz(node.http_address)
            if not ready:
                return node.name, why
        elif not port_open(node.address):
            return node.name, f"not accepting connections at {node.address}"
    return None


def not_ready(conf: ClusterConfig, nn: NamenodeClient) -> NotReady:
    return (ports_not_ready(conf, ("journalnode",))
            or hdfs_not_ready(conf, nn)
            or observers_not_ready(conf)
            or ports_not_ready(conf, ("jobtracker", "worker")))


def node_not_ready(conf: ClusterConfig, nn: NamenodeClient, name: str) -> NotReady:
    """Whether one (re)started node serves again."""
    node = conf.node(name)
    if not port_open(node.address):
        return name, f"not accepting connections at {node.address}"
    if node.kind in ("journalnode", "worker") and node.http_address:
        ready, why = readyz(node.http_address)
        if not ready:
            return name, why
    if node.kind == "datanode":
        try:
            if name not in live_datanodes(nn):
                return name, "not registered with the NameNode as live"
        except errors.Unavailable as e:
            return conf.namenodes[0].name, f"NameNode not answering: {e}"
    if node.kind == "namenode" and not conf.settings.ha:
        # The only NameNode serves once block reports took it out of safe mode; with
        # HA a restarted NameNode rejoins as a standby, which stays in safe mode.
        try:
            if nn.call("GetStats", pb.GetStatsRequest()).safe_mode:
                return name, "still in safe mode"
        except errors.Unavailable as e:
            return name, f"not answering: {e}"
    return None
