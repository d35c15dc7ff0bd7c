"""The DataNode: block storage on local disk, the write pipeline, block reads,
the NameNode link and the block scanner. Start it with
`python -m minidfs.datanode.server --conf cluster.toml --id dn1`."""
