"""The NameNode's gauges, computed from the namesystem at scrape time (docs/metrics.md).

Only O(1) or O(DataNodes) reads of the cores: a scrape never walks the block map.
"""
from __future__ import annotations

from typing import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from minidfs.namenode.datanode_registry import DECOMMISSIONED, DECOMMISSIONING

P = "minidfs_namenode_"


class NamenodeCollector(Collector):
    def __init__(self, fs, serving) -> None:
        self.fs = fs
        self.serving = serving     # () -> bool: active and answering clients

    def collect(self) -> Iterator[GaugeMetricFamily]:
        fs = self.fs
        stats = fs.stats()
        nodes = list(fs.registry.nodes.values())
        values = [
            ("capacity_bytes", "Raw capacity of the live DataNodes", stats.capacity),
            ("used_bytes", "Bytes the live DataNodes hold in replicas", stats.used),
            ("remaining_bytes", "Bytes the live DataNodes can still take", stats.remaining),
            ("files", "Files in the namespace", stats.files),
            ("blocks", "Blocks in the namespace", stats.blocks),
            ("under_replicated_blocks", "Complete blocks with fewer live replicas than "
             "their replication (missing ones included)", stats.under_replicated),
            ("missing_blocks", "Complete blocks with no readable replica", stats.missing),
            ("corrupt_blocks", "Blocks with at least one corrupt replica", stats.corrupt),
            ("live_datanodes", "DataNodes heard from within the dead interval",
             stats.live_datanodes),
            ("dead_datanodes", "Registered DataNodes declared dead", stats.dead_datanodes),
            ("decommissioning_datanodes", "Live DataNodes being drained",
             sum(1 for n in nodes if n.live and n.admin_state == DECOMMISSIONING)),
            ("decommissioned_datanodes", "DataNodes whose replicas are all elsewhere",
             sum(1 for n in nodes if n.admin_state == DECOMMISSIONED)),
            ("active", "1 while this NameNode is the serving active, else 0",
             1 if self.serving() else 0),
            ("safe_mode", "1 while in safe mode, else 0", 1 if stats.safe_mode else 0),
            ("last_txid", "Last edit applied", stats.last_txid),
            ("checkpoint_txid", "Txid of the newest checkpoint image", fs.checkpoint_txid),
            ("epoch", "HA writer epoch (0 without HA)", fs.ha.epoch),
            ("events", "Events kept in the event ring", len(fs.events.ring)),
            ("event_followers", "Clients following the event feed", fs.events.subscribers),
        ]
        for name, doc, value in values:
            yield GaugeMetricFamily(P + name, doc, value=value)
