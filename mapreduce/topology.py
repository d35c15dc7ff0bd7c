"""Which DataNode a Worker sits beside: the key of map locality. Pure.

Used by the JobTracker (a map is data-local on a Worker whose DataNode holds a replica
of its block) and by the Worker (its task children read through that DataNode first).
A Worker's DataNode is, in order: the `datanode = "dnX"` its cluster.toml entry names;
the DataNode on the same host with the same number (w2 -> dn2, as the local launcher
pairs them, so locality is meaningful even with every node on 127.0.0.1); the only
DataNode on its host. With none, the Worker has no local replicas.
"""
from __future__ import annotations

import re

from minidfs.config import ClusterConfig, NodeConfig

_NUMBER = re.compile(r"(\d+)$")


def worker_datanode(conf: ClusterConfig, worker: NodeConfig) -> str | None:
    explicit = worker.extra.get("datanode")
    if isinstance(explicit, str) and explicit in conf.nodes \
            and conf.nodes[explicit].kind == "datanode":
        return explicit
    same_host = [d for d in conf.datanodes if d.host == worker.host]
    number = _NUMBER.search(worker.name)
    if number:
        for datanode in same_host:
            match = _NUMBER.search(datanode.name)
            if match and match.group(1) == number.group(1):
                return datanode.name
    if len(same_host) == 1:
        return same_host[0].name
    return None


def locality_key(conf: ClusterConfig, worker: NodeConfig) -> str:
    """What the scheduler compares with a split's replica locations."""
    return worker_datanode(conf, worker) or f"host:{worker.host}"


def racks_of(conf: ClusterConfig, datanodes: list[str]) -> tuple[str, ...]:
    return tuple(sorted({conf.nodes[d].rack for d in datanodes if d in conf.nodes}))
