"""The minidfs client library: `Client` (namespace + files), the NameNode RPC
wrapper, and the block output / input streams that talk to DataNodes."""
