"""`LocalCluster`: a whole minidfs cluster as processes on this machine.

Behind `minidfs cluster up|status|kill|start|restart|down` (minidfs/cli/cluster.py),
the test fixtures (tests/conftest.py) and the quickstart demo. Used as

    with LocalCluster(home=tmp, datanodes=3, block_size=64 * 1024) as c:
        fs = c.client()
        c.kill("dn3")

it writes `<home>/cluster.toml` (or reuses the one there, so data survives a
down/up), starts every daemon detached, and returns only when the cluster serves;
leaving the `with` block stops every daemon, also when the block raised.
`LocalCluster.attach(home)` controls a cluster some other process started.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import pathlib
import subprocess
import time
from typing import Any

from cluster import processes, readiness
from cluster.layout import KIND_ORDER, Home, plan, start_order
from minidfs import config, identity
from minidfs.errors import ClusterError

log = logging.getLogger("cluster")

START_TIMEOUT_S = 60.0
NODE_START_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0
KILL_WAIT_S = 5.0
READY_POLL_INTERVAL_S = 0.2


class StartupError(ClusterError):
    """A node did not come up: the message names it, `log_tail` is its log's end."""

    def __init__(self, message: str, node: str, log_path: pathlib.Path, log_tail: str) -> None:
        super().__init__(message)
        self.node = node
        self.log_path = log_path
        self.log_tail = log_tail


def module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ImportError:
        return False


def default_workers(datanodes: int) -> int:
    """One Worker per DataNode once MapReduce's Worker exists, none before."""
    return datanodes if module_available("mapreduce.worker.server") else 0


def resolve_home(home: str | os.PathLike[str] | None) -> pathlib.Path:
    return pathlib.Path(home or os.environ.get("MINIDFS_HOME") or config.DEFAULT_HOME).resolve()


class LocalCluster:
    def __init__(self, home: str | os.PathLike[str] | None = None, *, datanodes: int = 3,
                 workers: int = 0, ha: bool = False, observers: int = 0,
                 block_size: int | None = None,
                 replication: int = 3, start_timeout_s: float = START_TIMEOUT_S,
                 user: str | None = None, groups: dict[str, list[str]] | None = None,
                 **settings: Any) -> None:
        """user: whose home directory `up` makes (default $MINIDFS_USER, else the
        OS user, who runs the daemons and is their superuser). groups: cluster.toml's
        [groups] table of a new home (user -> groups, docs/permissions.md)."""
        self.home = Home(resolve_home(home))
        self.user = user
        self.groups = dict(groups or {})
        self._options = dict(datanodes=datanodes, workers=workers, ha=ha, observers=observers,
                             block_size=block_size, replication=replication, settings=settings)
        self.start_timeout_s = start_timeout_s
        self.conf: config.ClusterConfig | None = None
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        if self.home.conf_path.exists():
            self.conf = config.load(self.home.conf_path)

    @classmethod
    def attach(cls, home: str | os.PathLike[str] | None = None) -> "LocalCluster":
        """The cluster whose cluster.toml is in `home` (it must exist)."""
        cluster = cls(home)
        if cluster.conf is None:
            raise ClusterError(f"{cluster.home.root}: no cluster here "
                               "(start one with `minidfs cluster up`)")
        return cluster

    @property
    def conf_path(self) -> pathlib.Path:
        return self.home.conf_path

    def _require_conf(self) -> config.ClusterConfig:
        if self.conf is None:
            raise ClusterError(f"{self.home.root}: no cluster here "
                               "(start one with `minidfs cluster up`)")
        return self.conf

    # ---- starting ----------------------------------------------------------------

    def up(self) -> None:
        """Starts every node (writing cluster.toml first for a new home) and waits
        until the cluster serves. On failure stops what it started and raises."""
        if self.conf is not None and any(n["state"] != processes.STOPPED for n in self.status()):
            raise ClusterError(f"{self.home.root}: a cluster is already running there")
        if self.conf is None:
            if self._options["ha"] and not module_available("minidfs.journalnode.server"):
                raise ClusterError("--ha: not available yet (no JournalNode)")
            self.home.root.mkdir(parents=True, exist_ok=True)
            self.conf = plan(self.home, **self._options)
            self.conf.groups.update(self.groups)
            user = identity.current_user(self.user)
            if not identity.known_on_host(user):
                # A user this host does not know (MINIDFS_USER=alice on a laptop) still
                # gets a home the superuser can hand over: list them in [groups].
                self.conf.groups.setdefault(user, [])
            self.home.make_dirs(list(self.conf.nodes))
            config.save(self.conf, self.home.conf_path)
        else:
            self.home.make_dirs(list(self.conf.nodes))
        try:
            for node in start_order(self.conf):
                self._spawn(node)
            self._wait_ready(None, self.start_timeout_s)
            self._make_home_dirs()
        except BaseException:
            try:
                self.down()
            except ClusterError as e:
                log.error("could not stop the nodes of a failed start: %s", e)
            raise

    def _make_home_dirs(self) -> None:
        """HDFS's usual layout: /tmp for everyone (1777, sticky) and the user's home
        /user/<user> owned by them; done as the superuser, kept if already there."""
        user = identity.current_user(self.user)
        with self.client(user=identity.process_user()) as fs:
            if not fs.exists("/tmp"):
                fs.mkdir("/tmp")
                fs.chmod("/tmp", 0o1777)
            home = identity.home_directory(user)
            if not fs.exists(home):
                fs.mkdir(home, parents=True)
                fs.chown(home, user)

    def _spawn(self, node: config.NodeConfig) -> None:
        log.info("starting %s %s at %s", node.kind, node.name, node.address)
        self._children[node.name] = processes.spawn(self.home, node)

    def _wait_ready(self, only: str | None, timeout_s: float) -> None:
        conf = self._require_conf()
        names = [only] if only else list(conf.nodes)
        deadline = time.monotonic() + timeout_s
        nn = readiness.probe_client(conf)
        try:
            while True:
                for name in names:
                    if self._state(name) == processes.STOPPED:
                        raise self._startup_error(name, "exited during start-up")
                if only:
                    missing = readiness.node_not_ready(conf, nn, only)
                else:
                    missing = readiness.not_ready(conf, nn)
                if missing is None:
                    return
                if time.monotonic() >= deadline:
                    name, reason = missing
                    raise self._startup_error(name, f"not ready after {timeout_s:g} s: {reason}")
                time.sleep(READY_POLL_INTERVAL_S)
        finally:
            nn.close()

    def _startup_error(self, name: str, reason: str) -> StartupError:
        path = self.home.log_path(name)
        return StartupError(f"{name}: {reason} (log: {path})", name, path,
                            processes.log_tail(path))

    def __enter__(self) -> "LocalCluster":
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    # ---- one node ----------------------------------------------------------------

    def _pid(self, name: str) -> int | None:
        return processes.read_pid(self.home.pid_path(name))

    def _state(self, name: str) -> str:
        child = self._children.get(name)
        if child is not None:
            child.poll()
        return processes.process_state(self._pid(name), name)

    def kill(self, name: str, signal: str | int = "KILL") -> None:
        """Sends KILL (default), TERM, STOP or CONT (a name or a signal.Signals) to a
        running node; waits for a KILL/TERM to take effect."""
        conf = self._require_conf()
        conf.node(name)
        sig_name = processes.signal_name(signal)
        pid = self._pid(name)
        if pid is None or not processes.send(pid, name, processes.SIGNALS[sig_name]):
            raise ClusterError(f"{name}: not running")
        if sig_name in ("KILL", "TERM"):
            wait_s = KILL_WAIT_S if sig_name == "KILL" else STOP_GRACE_S
            self._reap_children()
            if processes.wait_stopped({name: pid}, wait_s):
                raise ClusterError(f"{name}: still running {wait_s:g} s after SIG{sig_name}")

    def start(self, name: str) -> None:
        """Starts one stopped node with the same cluster.toml and waits until it serves."""
        conf = self._require_conf()
        node = conf.node(name)
        state = self._state(name)
        if state != processes.STOPPED:
            raise ClusterError(f"{name}: already {state}")
        self.home.make_dirs([name])
        self._spawn(node)
        self._wait_ready(name, NODE_START_TIMEOUT_S)

    def restart(self, name: str) -> None:
        """TERM, a grace period, KILL if needed, then start."""
        self._require_conf().node(name)
        self._stop({name: self._pid(name)})
        self.start(name)

    def down(self) -> None:
        """Stops every node this home's pid files name (TERM, then KILL stragglers);
        keeps data and logs."""
        if self.conf is None:
            return
        # Kind by kind, in reverse start order: a NameNode stopping gracefully still
        # finalizes its segment on the JournalNodes, which stop after it.
        for kind in reversed(KIND_ORDER):
            self._stop({n.name: self._pid(n.name) for n in self.conf.of_kind(kind)})
        for name in self.conf.nodes:
            self.home.pid_path(name).unlink(missing_ok=True)
        self._children.clear()

    def _stop(self, pids: dict[str, int | None]) -> None:
        alive = {n: p for n, p in pids.items()
                 if p is not None and processes.process_state(p, n) != processes.STOPPED}
        for name, pid in alive.items():
            # A paused process does not act on TERM until it is continued.
            processes.send(pid, name, processes.SIGNALS["CONT"])
            processes.send(pid, name, processes.SIGNALS["TERM"])
        stragglers = processes.wait_stopped(alive, STOP_GRACE_S)
        for name, pid in stragglers.items():
            log.warning("%s did not stop on TERM within %g s: killing it", name, STOP_GRACE_S)
            processes.send(pid, name, processes.SIGNALS["KILL"])
        left = processes.wait_stopped(stragglers, KILL_WAIT_S)
        self._reap_children()
        if left:
            raise ClusterError(f"{', '.join(sorted(left))}: still running after SIGKILL")

    def _reap_children(self) -> None:
        for child in self._children.values():
            child.poll()

    # ---- looking -----------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """{"name", "kind", "role", "address", "http", "pid", "state"} per node, in start order."""
        conf = self._require_conf()
        ha_roles = self._ha_roles(conf)
        rows = []
        for node in start_order(conf):
            state = self._state(node.name)
            row = {
                "name": node.name,
                "kind": node.kind,
                "role": _role(conf, node),
                "address": node.address,
                "http": node.http_address or None,
                "pid": self._pid(node.name) if state != processes.STOPPED else None,
                "state": state,
                "log": str(self.home.log_path(node.name)),
            }
            if state == processes.RUNNING and node.http_address:
                # The node's own word (/readyz): e.g. a standby NameNode is alive, not ready.
                row["ready"], row["ready_reason"] = readiness.readyz(node.http_address)
            if node.kind == "namenode" and conf.settings.ha:
                # The NameNodes tell their role (it changes on failover), with the
                # seed's words: Primary, ActiveSecondary, IdleSecondary.
                role, word = ha_roles.get(node.name, ("unreachable", ""))
                if state != processes.RUNNING:
                    role, word = "down", ""
                row["role"], row["ha_state"] = role, word
            rows.append(row)
        return rows

    def _ha_roles(self, conf: config.ClusterConfig) -> dict[str, tuple[str, str]]:
        if not conf.settings.ha:
            return {}
        from minidfs.client.ha_admin import ha_statuses

        return {s["name"]: (s["role"], s["state"]) for s in ha_statuses(conf)}

    def log(self, name: str) -> str:
        self._require_conf().node(name)
        try:
            return self.home.log_path(name).read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def client(self, **kwargs: Any) -> Any:
        from minidfs.client.client import Client

        return Client(conf=self.conf_path, **kwargs)


def _role(conf: config.ClusterConfig, node: config.NodeConfig) -> str:
    # NameNodes: replaced by what they report (status()); others: their kind.
    if node.kind == "namenode" and not conf.settings.ha:
        return "active"
    return node.kind
