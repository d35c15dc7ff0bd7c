"""The DataNode's metrics at scrape time: traffic counters (traffic.py) and storage
gauges (docs/metrics.md)."""
from __future__ import annotations

from typing import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from minidfs.metrics.traffic import TRAFFIC

P = "minidfs_datanode_"


class DatanodeCollector(Collector):
    def __init__(self, datanode) -> None:
        self.datanode = datanode

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield CounterMetricFamily(P + "bytes_written", "Block bytes received and written",
                                  value=TRAFFIC.bytes_written)
        yield CounterMetricFamily(P + "bytes_read", "Block bytes sent to readers and copies",
                                  value=TRAFFIC.bytes_read)
        yield CounterMetricFamily(P + "checksum_errors", "Packets received with a bad "
                                  "checksum and replicas found corrupt",
                                  value=TRAFFIC.checksum_errors)
        dn = self.datanode
        capacity, used, remaining = dn.storage.capacity()
        yield GaugeMetricFamily(P + "capacity_bytes", "Capacity of this node", value=capacity)
        yield GaugeMetricFamily(P + "used_bytes", "Bytes held in replicas", value=used)
        yield GaugeMetricFamily(P + "remaining_bytes", "Bytes this node can still take",
                                value=remaining)
        yield GaugeMetricFamily(P + "replicas", "Replicas stored", value=len(dn.storage.replicas()))
        yield GaugeMetricFamily(P + "active_transfers", "Block reads, writes and copies "
                                "in progress", value=dn.active_transfers())
        yield GaugeMetricFamily(P + "registered", "1 while registered with the active "
                                "NameNode", value=1 if dn.link.registered_with_active() else 0)
