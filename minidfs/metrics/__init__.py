"""Prometheus metrics of every daemon (docs/metrics.md): names
`minidfs_<daemon>_<what>_<unit>`, counters ending `_total`, served at /metrics."""
