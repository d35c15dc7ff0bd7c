"""minidfs: a small but real HDFS in Python.

    from minidfs import Client
    fs = Client()                      # the cluster in $MINIDFS_HOME or ./.minidfs
    fs.put("local.txt", "/data/a.txt")
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Client", "__version__"]


def __getattr__(name: str):
    # Imported lazily so `import minidfs.paths` in a daemon does not pull in the client.
    if name == "Client":
        from minidfs.client.client import Client

        return Client
    raise AttributeError(name)
