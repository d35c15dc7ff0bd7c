"""The local cluster launcher: every minidfs daemon as a detached process under one
home folder (cluster.toml, nodes/, logs/, pids/). `minidfs cluster ...` and the test
fixtures drive it through `LocalCluster`."""
from cluster.local import LocalCluster, StartupError

__all__ = ["LocalCluster", "StartupError"]
