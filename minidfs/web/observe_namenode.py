"""Everything a NameNode shows its watchers, mounted from server.py in one call:
/metrics and gRPC health (minidfs/observe.py) and the status pages
(pages_namenode.py)."""
from __future__ import annotations

from minidfs.config import ClusterConfig
from minidfs.metrics.namenode import NamenodeCollector
from minidfs.namenode.namesystem import Namesystem, mono_ms
from minidfs.observe import Observability
from minidfs.web import pages_namenode
from minidfs.web.face import HttpFace


def mount(face: HttpFace, obs: Observability, server, fs: Namesystem,
          conf: ClusterConfig) -> None:
    def serving() -> bool:
        return fs.ha.serving(mono_ms())

    obs.attach(server, face, NamenodeCollector(fs, serving),
               lambda: {"minidfs.ClientNamenode": serving(), "minidfs.DatanodeNamenode": True})
    pages_namenode.mount(face, fs, conf)
