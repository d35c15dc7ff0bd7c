"""Where a local cluster keeps its things, and the cluster.toml it starts from.

Used by cluster.local.LocalCluster (and so by `minidfs cluster ...`). A home folder
holds:
    cluster.toml          every node's address and data dir, cluster settings
    nodes/<name>/         each daemon's data dir
    logs/<name>.log       each daemon's stdout+stderr (appended across restarts)
    pids/<name>.pid       the pid of each daemon this launcher started
`plan` builds the ClusterConfig of a new local cluster: free loopback ports, node
names nn1 nn2 jn1..jn3 dn1..dnN jt w1..wN (and observer NameNodes nn3.. with
--observers, docs/observers.md), a fresh cluster id and the local cluster's settings.
"""
from __future__ import annotations

import dataclasses
import pathlib
import secrets
import socket
from typing import Any

from minidfs import config
from minidfs.errors import ConfigError

LOOPBACK = "127.0.0.1"
# A laptop cluster notices a dead DataNode within seconds, not HDFS's 10.5 minutes:
# 8 s of silence plus up to one tick of detection lands inside the promised 10 s.
LOCAL_DEAD_NODE_INTERVAL_S = 8.0
LOCAL_HEARTBEAT_INTERVAL_S = 1.0
# A local cluster's few blocks list in milliseconds: a block file deleted by hand
# is noticed within seconds (the default, 60 s, suits nodes with many blocks).
LOCAL_DIRECTORY_SCAN_INTERVAL_S = 3.0
JOURNALNODES_FOR_HA = 3
MAX_DATANODES = 64
MAX_WORKERS = 64
MAX_OBSERVERS = 8
# Start order: what others connect to comes first; `down` stops in reverse.
KIND_ORDER = ("journalnode", "namenode", "datanode", "jobtracker", "worker")


@dataclasses.dataclass(frozen=True)
class Home:
    root: pathlib.Path

    @property
    def conf_path(self) -> pathlib.Path:
        return self.root / config.CONF_NAME

    def log_path(self, name: str) -> pathlib.Path:
        return self.root / "logs" / f"{name}.log"

    def pid_path(self, name: str) -> pathlib.Path:
        return self.root / "pids" / f"{name}.pid"

    def node_dir(self, name: str) -> pathlib.Path:
        return self.root / "nodes" / name

    def make_dirs(self, names: list[str]) -> None:
        for sub in ("logs", "pids"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for name in names:
            self.node_dir(name).mkdir(parents=True, exist_ok=True)


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """`count` distinct ports the kernel calls free now. All sockets stay open until
    every port is chosen, so no port is handed out twice."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def node_names(datanodes: int, workers: int, ha: bool, observers: int = 0) -> list[tuple[str, str]]:
    """(name, kind) of every node of a local cluster, in start order."""
    nodes = [(f"jn{i}", "journalnode") for i in range(1, JOURNALNODES_FOR_HA + 1)] if ha else []
    nodes += [("nn1", "namenode")] + ([("nn2", "namenode")] if ha else [])
    nodes += [(f"nn{i}", "namenode") for i in range(3, 3 + observers)]
    nodes += [(f"dn{i}", "datanode") for i in range(1, datanodes + 1)]
    if workers:
        nodes += [("jt", "jobtracker")] + [(f"w{i}", "worker") for i in range(1, workers + 1)]
    return nodes


def make_settings(block_size: int | None, replication: int, ha: bool,
                  overrides: dict[str, Any]) -> config.Settings:
    """The local cluster's settings; a new cluster gets a fresh cluster id (client
    state ids name it, so one from another cluster is refused)."""
    known = {f.name for f in dataclasses.fields(config.Settings)} - {"extra"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"{', '.join(unknown)}: not a cluster setting")
    values: dict[str, Any] = {
        "dead_node_interval_s": LOCAL_DEAD_NODE_INTERVAL_S,
        "heartbeat_interval_s": LOCAL_HEARTBEAT_INTERVAL_S,
        "directory_scan_interval_s": LOCAL_DIRECTORY_SCAN_INTERVAL_S,
        "replication": replication,
        "ha": ha,
        "cluster_id": f"CID-{secrets.token_hex(8)}",
    }
    if block_size is not None:
        values["block_size_bytes"] = block_size
    values.update(overrides)
    settings = config.Settings(**values)
    config.check_settings(settings)   # here, not first in a daemon's log
    return settings


def plan(home: Home, *, datanodes: int, workers: int, ha: bool, block_size: int | None,
         replication: int, settings: dict[str, Any], observers: int = 0) -> config.ClusterConfig:
    """The ClusterConfig of a new local cluster in `home` (nothing is written)."""
    if observers and not ha:
        raise ConfigError("--observers needs --ha (observers tail the JournalNodes)")
    if not 0 <= observers <= MAX_OBSERVERS:
        raise ConfigError(f"{observers}: observers must be between 0 and {MAX_OBSERVERS}")
    if not 1 <= datanodes <= MAX_DATANODES:
        raise ConfigError(f"{datanodes}: datanodes must be between 1 and {MAX_DATANODES}")
    if not 0 <= workers <= MAX_WORKERS:
        raise ConfigError(f"{workers}: workers must be between 0 and {MAX_WORKERS}")
    if replication < 1:
        raise ConfigError(f"{replication}: replication must be at least 1")
    if block_size is not None and block_size < 1:
        raise ConfigError(f"{block_size}: block size must be positive")
    names = node_names(datanodes, workers, ha, observers)
    # Two ports a node: gRPC, then its HTTP face.
    ports = free_ports(2 * len(names))
    nodes = {
        name: config.NodeConfig(name=name, kind=kind, address=f"{LOOPBACK}:{ports[2 * i]}",
                                http_address=f"{LOOPBACK}:{ports[2 * i + 1]}",
                                data_dir=home.node_dir(name))
        for i, (name, kind) in enumerate(names)
    }
    for i in range(3, 3 + observers):
        nodes[f"nn{i}"].extra["role"] = config.OBSERVER_ROLE
    return config.ClusterConfig(
        path=home.conf_path, settings=make_settings(block_size, replication, ha, settings),
        nodes=nodes)


def start_order(conf: config.ClusterConfig) -> list[config.NodeConfig]:
    return sorted(conf.nodes.values(), key=lambda n: KIND_ORDER.index(n.kind))
