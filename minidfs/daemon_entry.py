"""What every daemon's `server.main` shares: finding its node, reporting a failed
start as one line, and the standalone `python -m <pkg>.server --conf --id` form.

Called by minidfs/{namenode,datanode,journalnode}/server.py and
mapreduce/{jobtracker,worker}/server.py. `minidfs daemon KIND` (cli/daemon_command.py)
calls the same `main(conf, name)`; the standalone form exists so a daemon can be
started before the shell is installed (tests, debugging).
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Awaitable, Callable, NoReturn

from minidfs import config, errors, logs
from minidfs.config import ClusterConfig, NodeConfig


class StartupError(Exception):
    """A daemon cannot start (port in use, data dir locked, wrong node kind)."""


def node_of_kind(conf: ClusterConfig, name: str, kind: str) -> NodeConfig:
    node = conf.node(name)
    if node.kind != kind:
        raise StartupError(f"node {name} is a {node.kind}, not a {kind}")
    return node


def stop_event() -> asyncio.Event:
    """An event the running loop sets on SIGTERM or SIGINT: a daemon's graceful stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def install_credentials(conf: ClusterConfig, name: str) -> None:
    """Secure mode: the daemon's own certificate and key become the process's identity
    before any channel or server exists; missing or unsafe material stops the start
    (fail closed, never a silent fallback to plaintext)."""
    from minidfs.security import credentials

    if credentials.is_secure(conf):
        credentials.install(credentials.for_daemon(conf, conf.node(name)))


def run(kind: str, name: str, serve: Callable[[], Awaitable[int | None]],
        conf: ClusterConfig | None = None) -> int:
    """Runs serve() to completion; a start-up failure is one stderr line and exit 1."""
    try:
        if conf is not None:
            install_credentials(conf, name)
        code = asyncio.run(serve())
    except (StartupError, errors.MinidfsError, OSError) as e:
        print(f"minidfs {kind} {name}: {e}", file=sys.stderr)
        return 1
    return 0 if code is None else code


def standalone(kind: str, main: Callable[[ClusterConfig, str], int]) -> NoReturn:
    """The `python -m <pkg>.server --conf cluster.toml --id NAME` entry."""
    parser = argparse.ArgumentParser(description=f"Run a minidfs {kind}.")
    parser.add_argument("--conf", required=True, help="path to cluster.toml")
    parser.add_argument("--id", required=True, help=f"this {kind}'s name in cluster.toml")
    args = parser.parse_args()
    logs.setup(args.id)
    try:
        conf = config.load(args.conf)
    except errors.ConfigError as e:
        print(f"minidfs {kind} {args.id}: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    raise SystemExit(main(conf, args.id))
