"""`minidfs cluster chaos`: a seeded nemesis, a recorded workload and a checker that
judges the history afterwards (Jepsen's method; docs/chaos.md)."""
