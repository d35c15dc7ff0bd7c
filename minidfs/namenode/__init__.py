"""The NameNode: namespace, block map, DataNode registry, leases, edit log, checkpoints."""
