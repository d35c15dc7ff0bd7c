"""cluster.toml: every node's name, kind, address and data folder, plus cluster settings.

The same file is given to every daemon (`minidfs daemon KIND --conf cluster.toml
--id NAME`) on every host, and clients find the cluster through it. Format (see
docs/cluster-toml.md):

    [cluster]
    block_size_bytes = 67108864
    replication = 3
    heartbeat_interval_s = 1.0
    ...
    [nodes.nn1]
    kind = "namenode"
    address = "127.0.0.1:41001"     # host:port; any host, nothing assumes loopback
    data_dir = "nodes/nn1"          # relative paths are taken from this file's folder
    [nodes.dn1]
    kind = "datanode"
    address = "10.0.0.5:41011"
    data_dir = "/var/minidfs/dn1"
    rack = "/rack1"

Pure apart from reading and writing the file itself.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import tomllib
from dataclasses import dataclass, field
from typing import Any

from minidfs.errors import ConfigError

NODE_KINDS = ("namenode", "journalnode", "datanode", "jobtracker", "worker")
DEFAULT_HOME = ".minidfs"
CONF_NAME = "cluster.toml"


@dataclass
class Settings:
    """Cluster-wide settings; the names carry their units."""

    block_size_bytes: int = 64 * 1024 * 1024
    replication: int = 3
    chunk_size_bytes: int = 64 * 1024
    heartbeat_interval_s: float = 1.0
    dead_node_interval_s: float = 10.0
    block_report_interval_s: float = 60.0
    lease_soft_limit_s: float = 30.0
    lease_hard_limit_s: float = 120.0
    # Files a directory put / get keeps in flight (the shell's --threads overrides).
    client_copy_threads: int = 16
    checkpoint_txns: int = 50_000
    checkpoint_interval_s: float = 600.0
    safemode_threshold: float = 0.999
    safemode_extension_s: float = 0.0
    replication_streams_per_node: int = 4
    # Bytes/s each DataNode may spend on re-replication and balancer copies (HDFS's
    # dfs.datanode.balance.bandwidthPerSec, 100 MB/s there too); `minidfs admin
    # set-bandwidth SIZE` changes it live (docs/balancer.md).
    balance_bandwidth_bytes_per_s: int = 100 * 1024 * 1024
    block_scanner_bytes_per_s: int = 8 * 1024 * 1024
    # NameNode fs-limits (namenode/limits.py, docs/namenode.md "Limits"): what one
    # request may ask for, so a typo cannot fill the NameNode's memory.
    min_block_size_bytes: int = 64 * 1024
    max_block_size_bytes: int = 4 * 1024 * 1024 * 1024
    max_blocks_per_file: int = 10_000
    max_directory_items: int = 1024 * 1024
    max_path_depth: int = 1_000
    max_replication: int = 512
    max_open_files_per_client: int = 10_000
    max_client_name_chars: int = 256
    max_string_field_bytes: int = 8 * 1024
    # DataNode disks (docs/datanode.md): the directory scanner compares every volume
    # with the replica map (and checks the volume) this often; a DataNode stops once
    # more than failed_volumes_tolerated of its data dirs have failed.
    directory_scan_interval_s: float = 60.0
    failed_volumes_tolerated: int = 0
    # Replica block files are written and read with O_DIRECT (datanode/direct_io.py):
    # far less CPU per byte written on VMs like ours, but a read of just-written
    # bytes then comes from the device, not the page cache (docs/datanode.md,
    # "Performance"). Where the file system refuses O_DIRECT it is buffered anyway.
    datanode_direct_io: bool = True
    ha: bool = False
    # HA (docs/ha.md): the active's lease on the JournalNodes; it renews every third
    # of it and a standby takes over once it lapsed on a majority. The standby tails
    # the journal every ha_tail_interval_s.
    ha_lease_duration_s: float = 3.0
    ha_tail_interval_s: float = 0.2
    # How long a client call keeps looking for an active NameNode before it gives up
    # (failed, or "outcome unknown" for a change that may have applied; docs/outcomes.md).
    client_failover_wait_s: float = 30.0
    # Per-user throttling on the NameNode (docs/throttling.md): each user's request
    # rate (a token bucket of `throttle_user_burst` tokens) and calls in flight; over
    # either the call is refused with a retry-after hint the clients honour. 0 turns
    # a limit off. Generous: a single shell or job never meets them.
    throttle_user_requests_per_s: float = 5000.0
    throttle_user_burst: int = 10000
    throttle_user_concurrent_calls: int = 256
    # The NameNode's audit log (docs/audit.md): one line per namespace operation and
    # per denial, in <log dir>/<name>-audit.log, rotated at this size, this many kept.
    audit_log_enabled: bool = True
    audit_log_max_bytes: int = 64 * 1024 * 1024
    audit_log_backups: int = 4
    # A JournalNode copies the finalized segments it lacks (a lost disk, time spent
    # down) from its peers this often (journalnode/peer_sync.py, docs/ha.md).
    journalnode_sync_interval_s: float = 10.0
    # Observer NameNodes (docs/observers.md, HDFS-12943). cluster_id names this
    # cluster in client state ids, so one carried over from another cluster is
    # refused ("" = unchecked; `cluster up` makes one). An observer answers a read
    # once it has applied the txid the client has seen, waiting at most
    # observer_read_wait_s before sending the client to the active. Clients read
    # from observers unless client_observer_reads is false (or
    # Client(observer_reads=False)).
    cluster_id: str = ""
    observer_read_wait_s: float = 2.0
    client_observer_reads: bool = True
    # MapReduce (mapreduce/jobtracker, mapreduce/worker; see docs/mapreduce.md).
    mapreduce_heartbeat_interval_s: float = 0.5
    mapreduce_worker_timeout_s: float = 10.0
    mapreduce_reduce_slowstart: float = 1.0
    mapreduce_speculative: bool = True
    # Uber mode (Hadoop's mapreduce.job.ubertask.enable): a job of one map and one
    # reduce runs its reduce in its map's process, on the map's Worker, right after
    # the map (no second task process, no shuffle).
    mapreduce_uber: bool = True
    # Permissions (docs/permissions.md): the umask of new files and directories
    # (octal text), the group whose members are superusers, and whether the
    # NameNode checks at all (owners and modes are kept either way).
    umask: str = "022"
    superusergroup: str = "supergroup"
    permissions_enabled: bool = True
    # Secure mode (docs/security.md): "simple" (users on trust, plaintext) or "tls"
    # (mutual TLS on every port, users from certificates, block tokens). Block keys
    # sign block tokens: a new key every block_key_update_interval_s, each token
    # valid for block_token_lifetime_s (HDFS: 10 h both; a laptop cluster rolls faster).
    security: str = "simple"
    block_key_update_interval_s: float = 600.0
    block_token_lifetime_s: float = 600.0
    # Secure mode's task children (docs/security.md): CPU seconds and address space
    # a task attempt's user code may use (0 = no limit).
    task_cpu_limit_s: int = 0
    task_memory_limit_bytes: int = 0
    # Trash (docs/trash.md): the shell's rm moves into /user/<user>/.Trash, kept at
    # least this long; 0 turns the trash off (HDFS's fs.trash.interval, its default
    # too). The NameNode checkpoints Current every trash_checkpoint_interval_s
    # (0: the trash interval, as HDFS's fs.trash.checkpoint.interval).
    trash_interval_s: float = 0.0
    trash_checkpoint_interval_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class NodeConfig:
    name: str
    kind: str
    address: str
    data_dir: pathlib.Path
    rack: str = "/default"
    capacity_bytes: int = 0       # 0 = whatever the disk has
    slots: int = 0                # workers: task slots, 0 = number of cores
    data_dirs: list[pathlib.Path] = field(default_factory=list)  # DataNodes: several volumes
    http_address: str = ""        # host:port of its HTTP face (docs/http.md); "" = none
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def volume_dirs(self) -> list[pathlib.Path]:
        """A DataNode's volumes: `data_dirs` when given, else its one `data_dir`."""
        return self.data_dirs or [self.data_dir]

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])


@dataclass
class ClusterConfig:
    path: pathlib.Path | None
    settings: Settings
    nodes: dict[str, NodeConfig]
    # [groups]: user -> groups, for users the NameNode's host does not know (or
    # extra groups for those it does).
    groups: dict[str, list[str]] = field(default_factory=dict)

    @property
    def home(self) -> pathlib.Path:
        return self.path.parent if self.path else pathlib.Path.cwd()

    def of_kind(self, kind: str) -> list[NodeConfig]:
        return [n for n in self.nodes.values() if n.kind == kind]

    @property
    def namenodes(self) -> list[NodeConfig]:
        return self.of_kind("namenode")

    @property
    def observers(self) -> list[NodeConfig]:
        """NameNodes with `role = "observer"`: they serve reads only (docs/observers.md)."""
        return [n for n in self.namenodes if is_observer(n)]

    @property
    def writable_namenodes(self) -> list[NodeConfig]:
        """The NameNodes that may become active (every one but the observers)."""
        return [n for n in self.namenodes if not is_observer(n)]

    @property
    def datanodes(self) -> list[NodeConfig]:
        return self.of_kind("datanode")

    @property
    def journalnodes(self) -> list[NodeConfig]:
        return self.of_kind("journalnode")

    @property
    def workers(self) -> list[NodeConfig]:
        return self.of_kind("worker")

    @property
    def jobtracker(self) -> NodeConfig | None:
        found = self.of_kind("jobtracker")
        return found[0] if found else None

    def node(self, name: str) -> NodeConfig:
        try:
            return self.nodes[name]
        except KeyError:
            raise ConfigError(f"{name}: no such node in {self.path}") from None

    def datanode_on_host(self, host: str) -> NodeConfig | None:
        """The DataNode that shares a host with host (for writer-local placement)."""
        for node in self.datanodes:
            if node.host == host:
                return node
        return None


OBSERVER_ROLE = "observer"


def is_observer(node: NodeConfig) -> bool:
    return node.kind == "namenode" and node.extra.get("role") == OBSERVER_ROLE


def _check_address(name: str, address: object) -> str:
    if not isinstance(address, str) or ":" not in address:
        raise ConfigError(f"{name}: address must be host:port, got {address!r}")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{name}: address must be host:port, got {address!r}")
    return address


_POSITIVE_SETTINGS = (
    "replication", "block_size_bytes", "chunk_size_bytes", "min_block_size_bytes",
    "max_block_size_bytes", "max_blocks_per_file", "max_directory_items", "max_path_depth",
    "max_replication", "max_open_files_per_client", "max_client_name_chars",
    "max_string_field_bytes", "balance_bandwidth_bytes_per_s",
)


def check_settings(s: Settings) -> None:
    """Refuses settings the cluster could not run with, naming them; the limits a
    request is checked against must agree with each other and with the defaults."""
    for name in _POSITIVE_SETTINGS:
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"cluster: {name} must be a positive integer, got {value!r}")
    if s.min_block_size_bytes > s.max_block_size_bytes:
        raise ConfigError(f"cluster: min_block_size_bytes ({s.min_block_size_bytes}) is above "
                          f"max_block_size_bytes ({s.max_block_size_bytes})")
    if not s.min_block_size_bytes <= s.block_size_bytes <= s.max_block_size_bytes:
        raise ConfigError(
            f"cluster: block_size_bytes ({s.block_size_bytes}) must lie between "
            f"min_block_size_bytes ({s.min_block_size_bytes}) and max_block_size_bytes "
            f"({s.max_block_size_bytes}); a smaller block needs a smaller minimum (and "
            f"chunk_size_bytes) in the same [cluster] table")
    if s.block_size_bytes % s.chunk_size_bytes:
        raise ConfigError(f"cluster: block_size_bytes ({s.block_size_bytes}) must be a "
                          f"multiple of chunk_size_bytes ({s.chunk_size_bytes})")
    if s.security not in ("simple", "tls"):
        raise ConfigError(f"cluster: security must be \"simple\" or \"tls\", got {s.security!r}")
    if not s.block_key_update_interval_s > 0 or not s.block_token_lifetime_s > 0:
        raise ConfigError("cluster: block_key_update_interval_s and block_token_lifetime_s "
                          "must be positive numbers of seconds")
    for name in ("trash_interval_s", "trash_checkpoint_interval_s"):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ConfigError(f"cluster: {name} must be a number of seconds >= 0, got {value!r}")
    if s.replication > s.max_replication:
        raise ConfigError(f"cluster: replication ({s.replication}) is above "
                          f"max_replication ({s.max_replication})")


def _data_dirs(name: str, raw: object, base: pathlib.Path) -> list[pathlib.Path]:
    if (not isinstance(raw, list) or not raw
            or not all(isinstance(d, str) and d for d in raw)):
        raise ConfigError(f"nodes.{name}: data_dirs must be a non-empty list of folder paths")
    dirs = [pathlib.Path(os.path.expanduser(d)) for d in raw]
    dirs = [d if d.is_absolute() else base / d for d in dirs]
    if len(set(dirs)) != len(dirs):
        raise ConfigError(f"nodes.{name}: data_dirs names a folder twice")
    return dirs


def parse(data: dict[str, Any], path: pathlib.Path | None) -> ClusterConfig:
    base = path.parent if path else pathlib.Path.cwd()
    known = {f.name for f in dataclasses.fields(Settings)} - {"extra"}
    raw_settings = dict(data.get("cluster", {}))
    settings = Settings(**{k: v for k, v in raw_settings.items() if k in known})
    settings.extra = {k: v for k, v in raw_settings.items() if k not in known}
    check_settings(settings)
    if not settings.client_failover_wait_s >= 0:
        raise ConfigError("cluster: client_failover_wait_s must be a number of seconds >= 0")
    if not settings.observer_read_wait_s >= 0:
        raise ConfigError("cluster: observer_read_wait_s must be a number of seconds >= 0")
    nodes: dict[str, NodeConfig] = {}
    node_fields = {f.name for f in dataclasses.fields(NodeConfig)} - {"extra", "name"}
    for name, raw in data.get("nodes", {}).items():
        if not isinstance(raw, dict):
            raise ConfigError(f"nodes.{name}: must be a table")
        kind = raw.get("kind")
        if kind not in NODE_KINDS:
            raise ConfigError(f"nodes.{name}: kind must be one of {', '.join(NODE_KINDS)}")
        values = {k: v for k, v in raw.items() if k in node_fields}
        values["address"] = _check_address(name, raw.get("address"))
        if raw.get("http_address"):
            values["http_address"] = _check_address(f"{name}: http_address", raw["http_address"])
        data_dir = pathlib.Path(os.path.expanduser(str(raw.get("data_dir", f"nodes/{name}"))))
        values["data_dir"] = data_dir if data_dir.is_absolute() else (base / data_dir)
        if "data_dirs" in raw:
            values["data_dirs"] = _data_dirs(name, raw["data_dirs"], base)
        extra = {k: v for k, v in raw.items() if k not in node_fields}
        nodes[name] = NodeConfig(name=name, extra=extra, **values)
    return ClusterConfig(path=path, settings=settings, nodes=nodes,
                         groups=_parse_groups(data.get("groups", {})))


def _parse_groups(raw: object) -> dict[str, list[str]]:
    if not isinstance(raw, dict):
        raise ConfigError("groups: must be a table of user = [\"group\", ...]")
    groups = {}
    for user, names in raw.items():
        if not isinstance(names, list) or not all(isinstance(g, str) and g for g in names):
            raise ConfigError(f"groups.{user}: must be a list of group names")
        groups[str(user)] = list(names)
    return groups


def load(path: str | os.PathLike[str]) -> ClusterConfig:
    p = pathlib.Path(path).resolve()
    try:
        with open(p, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{p}: no cluster file (start one with `minidfs cluster up`)") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: {e}") from None
    return parse(data, p)


def find_conf(conf: str | os.PathLike[str] | None = None, home: str | None = None) -> pathlib.Path:
    """The cluster file: conf if given, else $MINIDFS_HOME/cluster.toml, else ./.minidfs/cluster.toml."""
    if conf:
        return pathlib.Path(conf)
    home = home or os.environ.get("MINIDFS_HOME") or DEFAULT_HOME
    return pathlib.Path(home) / CONF_NAME


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, pathlib.Path)):
        text = str(value).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{text}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot write {value!r} to TOML")


def dumps(config: ClusterConfig) -> str:
    base = config.home
    lines = ["# minidfs cluster file: see docs/cluster-toml.md", "[cluster]"]
    settings = dataclasses.asdict(config.settings)
    settings.update(settings.pop("extra"))
    lines += [f"{k} = {_toml_value(v)}" for k, v in settings.items()]
    for node in config.nodes.values():
        lines += ["", f"[nodes.{node.name}]"]
        data_dir = node.data_dir
        try:
            data_dir = data_dir.relative_to(base)
        except ValueError:
            pass
        values = {"kind": node.kind, "address": node.address, "data_dir": data_dir,
                  "rack": node.rack, "capacity_bytes": node.capacity_bytes, "slots": node.slots}
        if node.data_dirs:
            values["data_dirs"] = [_relative(d, base) for d in node.data_dirs]
        if node.http_address:
            values["http_address"] = node.http_address
        values.update(node.extra)
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    if config.groups:
        lines += ["", "[groups]"]
        lines += [f"{_toml_value(user)} = {_toml_value(names)}"
                  for user, names in config.groups.items()]
    return "\n".join(lines) + "\n"


def _relative(path: pathlib.Path, base: pathlib.Path) -> pathlib.Path:
    try:
        return path.relative_to(base)
    except ValueError:
        return path


def save(config: ClusterConfig, path: str | os.PathLike[str]) -> None:
    p = pathlib.Path(path)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(dumps(config))
    os.replace(tmp, p)
    config.path = p.resolve()
