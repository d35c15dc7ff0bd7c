"""The HTTP face every daemon serves beside its gRPC port (DESIGN.md §7)."""
