"""Logging set-up for daemons: one line per record on stderr.

Called once by `minidfs daemon` (minidfs/cli/daemon.py) before a daemon's
`server.main` runs. The local launcher redirects each daemon's stderr to
`<home>/logs/<name>.log`, so stderr is the only sink a daemon needs; the node
name is in every line so logs stay readable after they are merged or copied.
"""
from __future__ import annotations

import logging
import os
import sys

LOG_LEVEL_ENV = "MINIDFS_LOG_LEVEL"
DEFAULT_LEVEL = "INFO"
LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s {node} %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def setup(node_name: str, level: str | None = None) -> None:
    """Routes every logger to stderr at `level` (or $MINIDFS_LOG_LEVEL, else INFO)."""
    chosen = (level or os.environ.get(LOG_LEVEL_ENV) or DEFAULT_LEVEL).upper()
    if chosen not in logging.getLevelNamesMapping():
        chosen = DEFAULT_LEVEL
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT.format(node=node_name), DATE_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(chosen)
    # gRPC's own Python logger is chatty at INFO about every closed connection.
    logging.getLogger("grpc").setLevel(max(logging.WARNING, root.level))
