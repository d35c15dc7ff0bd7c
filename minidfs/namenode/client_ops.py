"""The ClientNamenode operations: one method per RPC, plain values in and out.

Called by client_servicer.py (which translates protobuf) and by tests. Each
method validates its arguments (paths, ranges, names, and the cluster's fs-limits
through limits.py), then works through the namesystem: mutations go through
`Namesystem.mutate` (safe mode, validate, apply, log, sync), reads look at the
pure cores directly.

Permissions: every method a user reaches takes the `caller` (permission_checker.
Caller) the servicer built from the call's identity and checks it first, inside the
validate step, so a denied call changes nothing. caller=None is the NameNode itself
or a test driving the core: trusted, unchecked.
"""
from __future__ import annotations

import random

from minidfs import errors, fsmode, paths
from minidfs.namenode import fsck, namespace, pipeline_recovery, placement, replica_choice
from minidfs.namenode import permission_checker as perm
from minidfs.namenode.inode import (
    CORRUPT, IN_BUILD, OPENING, READY, BlockInfo, INode, INodeDirectory, INodeFile,
)
from minidfs.namenode.limits import Limits
from minidfs.namenode.permission_checker import READ_EXECUTE, WRITE_EXECUTE, Caller
from minidfs.namenode.namesystem import Namesystem, mono_ms, wall_ms
from minidfs.namenode.retry_cache import RpcKey
from minidfs.namenode.views import (
    DatanodeView, FileView, LocatedBlocksView, LocatedBlockView, NodeRef, StatsView,
)

MAX_BAD_REPLICAS_PER_REPORT = 10_000
MAX_EXCLUDED_NODES = 1_000
# How long a Complete waits for its last block's first replica report before
# answering "not yet" (the client then retries with backoff).
COMPLETE_WAIT_S = 1.0


def file_view(node: INode, path: str | None = None) -> FileView:
    path = path or node.path()
    if isinstance(node, INodeFile):
        return FileView(path, False, node.length(), node.replication, node.block_size,
                        node.mtime_ms, node.under_construction, node.owner, node.group,
                        node.mode)
    return FileView(path, True, 0, 0, 0, node.mtime_ms, False, node.owner, node.group,
                    node.mode)


def check_id(value: int, what: str) -> int:
    if value <= 0:
        raise errors.InvalidArgument(f"{what}: must be a positive id, got {value}")
    return value


def block_arg(block: tuple[int, int, int] | None, what: str) -> tuple[int, int, int] | None:
    """(id, genstamp, length), or None for an absent block (id 0)."""
    if block is None or block[0] == 0:
        return None
    check_id(block[0], what)
    return block


class ClientOperations:
    def __init__(self, fs: Namesystem) -> None:
        self.fs = fs
        self.limits = Limits(fs.settings)
        # Randomness of replica order for readers and of space-aware placement for
        # writers (replica_choice.py, placement.AvailableSpace).
        self._rng = random.Random()
        self._space = placement.AvailableSpace(self._rng)

    # ---------------------------------------------------------- permissions

    def _check(self, caller: Caller | None, path: str, **access: int) -> None:
        if caller is not None:
            perm.check(caller, self.fs.ns.root, path, **access)

    def _umask(self) -> int:
        return fsmode.parse_umask(self.fs.settings.umask)

    def _new_mode(self, mode: int | None, default: int) -> int:
        if mode is None:
            return fsmode.apply_umask(default, self._umask())
        if not 0 <= mode <= fsmode.ALL_BITS:
            raise errors.InvalidArgument(f"{mode:o}: not a valid mode (000 to 1777)")
        return mode

    # ------------------------------------------------------------ mutations

    # `rpc` (retry_cache.rpc_key of the request's RpcId): a retried call that was
    # already applied is answered from the retry cache, not applied again.

    async def mkdirs(self, path: str, parents: bool, rpc: RpcKey | None = None,
                     caller: Caller | None = None, mode: int | None = None) -> None:
        paths.validate(path)
        mode = self._new_mode(mode, fsmode.DIR_DEFAULT)

        def validate() -> list:
            exists = self.fs.ns.get(path) is not None
            self._check(caller, path, ancestor_access=0 if exists else fsmode.WRITE)
            # HDFS: ancestors made on the way can always be entered by their owner.
            records = self.fs.ns.mkdirs(path, parents, wall_ms(), caller and caller.user,
                                        mode, mode | 0o300)
            if records:
                self.limits.check_new_path(path)
                self.limits.check_room(self.fs.ns, path)
            return records

        await self.fs.mutate(path, validate, rpc)

    async def create(self, path: str, overwrite: bool, replication: int, block_size: int,
                     client: str, client_node: str, create_parent: bool,
                     rpc: RpcKey | None = None, caller: Caller | None = None,
                     mode: int | None = None) -> FileView:
        paths.validate(path)
        limits = self.limits
        limits.check_client_name(client, path)
        limits.check_new_path(path)
        replication = limits.check_replication(replication or self.fs.settings.replication, path)
        block_size = limits.check_block_size(block_size or self.fs.settings.block_size_bytes, path)
        mode = self._new_mode(mode, fsmode.FILE_DEFAULT)
        parent_mode = fsmode.apply_umask(fsmode.DIR_DEFAULT, self._umask()) | 0o300

        def validate() -> list:
            if overwrite and isinstance(self.fs.ns.get(path), INodeFile):
                self._check(caller, path, access=fsmode.WRITE)
            self._check(caller, path, ancestor_access=fsmode.WRITE)
            records = self.fs.ns.create(path, replication, block_size, client, overwrite,
                                        create_parent, wall_ms(), caller and caller.user,
                                        mode, parent_mode)
            old = self.fs.ns.get(path)
            if (isinstance(old, INodeFile) and old.client not in (None, client)
                    and not self.fs.leases.soft_expired(old.client, mono_ms())):
                raise errors.LeaseError(f"{path}: file is being written by another client")
            limits.check_room(self.fs.ns, path)
            # Replacing a file this client has open closes that one: no more open.
            replaced = isinstance(old, INodeFile) and old.client == client
            limits.check_open_files(client, self.fs.leases.open_files(client) - replaced)
            return records

        await self.fs.mutate(path, validate, rpc)
        self.fs.leases.set_client_node(client, client_node)
        return file_view(self.fs.ns.get_file(path), path)

    async def add_block(self, path: str, client: str, previous: tuple[int, int, int] | None,
                        excluded: list[str]) -> LocatedBlockView:
        paths.validate(path)
        previous = block_arg(previous, f"{path}: previous block")
        if len(excluded) > MAX_EXCLUDED_NODES:
            raise errors.InvalidArgument(f"{path}: more than {MAX_EXCLUDED_NODES} excluded nodes")
        fs = self.fs
        fs.leases.renew(client, mono_ms())
        chosen: list = []

        def validate() -> list:
            records, retry = fs.ns.add_block(path, client, previous)
            if retry is not None:
                chosen.append(retry)
                return []
            self.limits.check_another_block(fs.ns, path)
            file = fs.ns.get_file(path)
            chosen.extend(placement.choose_targets(
                fs.registry.nodes.values(), file.replication, file.block_size,
                writer=fs.leases.client_node(client), excluded=set(excluded), space=self._space))
            return records

        records = await fs.mutate(path, validate)
        if not records:
            block = chosen[0]
            targets = fs.bm.uc_targets.get(block.id, [])
            if not targets:
                # A retry answered by a NameNode that never handed this block out (HA:
                # the first answer was lost in a failover): a fresh pipeline, as HDFS does.
                nodes = placement.choose_targets(
                    fs.registry.nodes.values(), block.file.replication, block.file.block_size,
                    writer=fs.leases.client_node(client), excluded=set(excluded), space=self._space)
                targets = fs.bm.uc_targets[block.id] = [node.name for node in nodes]
                for node in nodes:
                    node.scheduled += 1
        else:
            block = fs.ns.get_file(path).blocks[-1]
            targets = [node.name for node in chosen]
            fs.bm.uc_targets[block.id] = targets
            for node in chosen:
                node.scheduled += 1
        return LocatedBlockView(block.id, block.genstamp, 0, self._offset(block),
                                self._refs(targets))

    async def first_block(self, path: str, client: str) -> LocatedBlockView | None:
        """The first block of a file just created, for a Create that asked for it (one
        round trip fewer per file); None when it cannot be had: the file is created
        all the same, and the client's own AddBlock then meets the error."""
        try:
            return await self.add_block(path, client, None, [])
        except errors.MinidfsError:
            return None

    async def append(self, path: str, client: str, client_node: str, rpc: RpcKey | None = None,
                     caller: Caller | None = None) -> tuple[FileView, LocatedBlockView | None, bool]:
        """Reopens a closed file for `client` (docs/append.md): its status, its last
        block (None without blocks) and whether that block was reopened: not full, it
        is under construction again with a new genstamp and the nodes holding it as
        its pipeline. A file under construction is refused
        (AlreadyBeingCreatedError), unless its writer passed the soft limit: then its
        lease recovery starts and the caller is told to try again."""
        paths.validate(path)
        self.limits.check_client_name(client, path)
        fs = self.fs
        now = mono_ms()
        fs.safemode.check(path)
        node = fs.ns.get(path)
        if (isinstance(node, INodeFile) and node.client not in (None, client)
                and fs.leases.soft_expired(node.client, now)):
            self._check(caller, path, access=fsmode.WRITE)
            holder = node.client
            if not await fs.recover_file_now(node):
                raise errors.RecoveryInProgressError(
                    f"{path}: cannot append: lease recovery is in progress (the writer "
                    f"{holder} went silent); try again later")
        holders: list[str] = []

        def validate() -> list:
            self._check(caller, path, access=fsmode.WRITE)
            records = fs.ns.append(path, client)
            self.limits.check_open_files(client, fs.leases.open_files(client))
            file = fs.ns.get_file(path)
            if records[0]["gs"]:
                holders.extend(self._ranked(file.blocks[-1], client_node))
                if not holders:
                    raise errors.Unavailable(
                        f"{path}: cannot append: no live DataNode holds the last block "
                        f"{file.blocks[-1].id}")
            return records

        records = await fs.mutate(path, validate, rpc)
        fs.leases.set_client_node(client, client_node)
        file = fs.ns.get_file(path)
        if not file.blocks:
            return file_view(file, path), None, False
        last = file.blocks[-1]
        if last.committed:
            return file_view(file, path), LocatedBlockView(
                last.id, last.genstamp, last.length, self._offset(last), []), False
        if holders:
            fs.bm.uc_targets[last.id] = holders
        elif not records or last.id not in fs.bm.uc_targets:
            raise errors.Unavailable(f"{path}: cannot append: the last block's nodes are unknown "
                                     "here; try again")
        targets = fs.bm.uc_targets[last.id]
        return file_view(file, path), LocatedBlockView(
            last.id, last.genstamp, last.length, self._offset(last), self._refs(targets)), True

    def _ranked(self, block: BlockInfo, client_node: str) -> list[str]:
        """Live, good replicas of a block, the writer's own node first (its pipeline)."""
        registry = self.fs.registry
        good = [n for n, s in (block.replicas or {}).items()
                if s in (READY, OPENING) and registry.is_live(n)]
        return sorted(good, key=lambda n: (n != client_node, registry.nodes[n].active_transfers, n))

    async def fsync(self, path: str, client: str, block: tuple[int, int, int]) -> None:
        """hflush / hsync: the block being written holds `block[2]` acknowledged bytes."""
        paths.validate(path)
        check_id(block[0], f"{path}: block")
        fs = self.fs
        fs.leases.renew(client, mono_ms())
        await fs.mutate(path, lambda: fs.ns.update_length(path, client, *block))

    async def recover_lease(self, path: str, caller: Caller | None = None) -> bool:
        """Starts (or moves on) the lease recovery of a file at once; True once closed."""
        paths.validate(path)
        self._check(caller, path, access=fsmode.WRITE)
        self.fs.safemode.check(path)
        return await self.fs.recover_file_now(self.fs.ns.get_file(path))

    async def abandon_block(self, path: str, client: str, block_id: int) -> None:
        paths.validate(path)
        check_id(block_id, f"{path}: block")
        await self.fs.mutate(path, lambda: self.fs.ns.abandon_block(path, client, block_id))

    async def complete(self, path: str, client: str, last: tuple[int, int, int] | None) -> bool:
        paths.validate(path)
        last = block_arg(last, f"{path}: last block")
        fs = self.fs
        await self._await_last_replica(path, last)
        fs.safemode.check(path)
        file = fs.ns.get_file(path)
        if file.client is None:
            if (not file.blocks and last is None) or (file.blocks and last and file.blocks[-1].id == last[0]):
                return True  # a retried Complete of a file this call already closed
            raise errors.LeaseError(f"{path}: file is not open for writing")
        fs.leases.renew(client, mono_ms())
        fs.log_edits(fs.ns.commit_last(path, client, last))
        done = not file.blocks or fs.bm.has_finalized_replica(file.blocks[-1])
        if done:
            fs.log_edits(fs.ns.close(path, wall_ms()))
        await fs.sync()
        return done

    async def _await_last_replica(self, path: str, last: tuple[int, int, int] | None) -> None:
        """Holds a Complete until a DataNode has reported the last block finalized
        (at most COMPLETE_WAIT_S): the client has the acks already, the report is a
        few ms behind, and answering "not yet" would cost the client a sleep and a
        second call. Everything is checked afresh afterwards."""
        deadline_ms = mono_ms() + int(COMPLETE_WAIT_S * 1000)
        while (remaining_ms := deadline_ms - mono_ms()) > 0:
            file = self.fs.ns.get(path)
            if (last is None or not isinstance(file, INodeFile) or not file.blocks
                    or file.blocks[-1].id != last[0]
                    or self.fs.bm.has_finalized_replica(file.blocks[-1])):
                return
            await self.fs.replica_news(remaining_ms / 1000)

    async def delete(self, path: str, recursive: bool, rpc: RpcKey | None = None,
                     caller: Caller | None = None) -> bool:
        paths.validate(path)

        def validate() -> list:
            # Every directory below is checked before anything is deleted.
            self._check(caller, path, parent_access=fsmode.WRITE, sub_access=WRITE_EXECUTE,
                        ignore_empty_dirs=True)
            return self.fs.ns.delete(path, recursive, wall_ms())

        records = await self.fs.mutate(path, validate, rpc)
        return bool(records)

    async def rename(self, src: str, dst: str, rpc: RpcKey | None = None,
                     caller: Caller | None = None) -> None:
        paths.validate(src)
        paths.validate(dst)

        def validate() -> list:
            self._check(caller, src, parent_access=fsmode.WRITE)
            target = dst
            if src != "/" and isinstance(self.fs.ns.get(dst), INodeDirectory):
                target = paths.join(dst, paths.basename(src))
            self._check(caller, target, ancestor_access=fsmode.WRITE)
            records = self.fs.ns.rename(src, dst, wall_ms())
            if records:
                self.limits.check_rename_room(self.fs.ns, src, dst)
            return records

        await self.fs.mutate(src, validate, rpc)

    async def set_replication(self, path: str, replication: int,
                              caller: Caller | None = None) -> None:
        paths.validate(path)

        self.limits.check_replication(replication, path)

        def validate() -> list:
            self._check(caller, path, owner=True)
            return self.fs.ns.set_replication(path, replication)

        await self.fs.mutate(path, validate)

    async def set_permission(self, path: str, mode: str, recursive: bool,
                             caller: Caller | None = None) -> int:
        """chmod [-R]; how many inodes changed. Every inode is checked first."""
        paths.validate(path)

        def validate() -> list:
            self._check(caller, path, owner=True)
            if caller is not None:
                for node in self.fs.ns.subtree(path, recursive):
                    perm.check_owner(caller, node.path(), node)
            return self.fs.ns.set_permission(path, mode, recursive)

        return len(await self.fs.mutate(path, validate))

    async def set_owner(self, path: str, owner: str | None, group: str | None,
                        recursive: bool, caller: Caller | None = None) -> int:
        """chown / chgrp [-R]; how many inodes changed. Every inode is checked first."""
        paths.validate(path)
        users = self.fs.users
        if owner is not None and not users.known_user(fsmode.check_name(owner, "user")):
            raise errors.InvalidArgument(f"{owner}: no such user")
        if group is not None and not users.known_group(fsmode.check_name(group, "group")):
            raise errors.InvalidArgument(f"{group}: no such group")

        def validate() -> list:
            self._check(caller, path, owner=True)
            if caller is not None:
                for node in self.fs.ns.subtree(path, recursive):
                    perm.check_owner(caller, node.path(), node)
                    perm.check_set_owner(caller, node.path(), node, owner, group)
            return self.fs.ns.set_owner(path, owner, group, recursive)

        return len(await self.fs.mutate(path, validate))

    async def set_times(self, path: str, mtime_ms: int, caller: Caller | None = None) -> None:
        paths.validate(path)

        def validate() -> list:
            self._check(caller, path, access=fsmode.WRITE)   # as HDFS's setTimes
            return self.fs.ns.set_times(path, mtime_ms)

        await self.fs.mutate(path, validate)

    async def set_quota(self, path: str, names_quota: int | None, space_quota: int | None,
                        caller: Caller | None = None) -> None:
        """dfsadmin -setQuota / -setSpaceQuota / -clrQuota / -clrSpaceQuota: each
        quota a positive int, quota.NONE to clear, None to keep. Superusers only."""
        paths.validate(path)
        if caller is not None:
            perm.check_super(caller, f"set quota of {path}")
        await self.fs.mutate(path, lambda: self.fs.ns.set_quota(path, names_quota, space_quota))

    def quotas(self, path: str, caller: Caller | None = None) -> tuple[int, int]:
        """(namespace quota, space quota) of path, -1 where none (content summary)."""
        self._check(caller, paths.validate(path))
        return self.fs.ns.quotas(path)

    def renew_lease(self, client: str) -> None:
        self.limits.check_client_name(client, "lease")
        self.fs.leases.renew(client, mono_ms())

    async def get_additional_datanodes(self, path: str, client: str, block: tuple[int, int],
                                       existing: list[str], excluded: list[str],
                                       count: int) -> list[NodeRef]:
        """Pipeline recovery: DataNodes to add beside the survivors `existing`."""
        paths.validate(path)
        check_id(block[0], f"{path}: block")
        if len(excluded) > MAX_EXCLUDED_NODES:
            raise errors.InvalidArgument(f"{path}: more than {MAX_EXCLUDED_NODES} excluded nodes")
        fs = self.fs
        fs.leases.renew(client, mono_ms())
        chosen = pipeline_recovery.additional_targets(
            fs.ns, fs.registry, path, client, block[0], block[1], existing, excluded, count)
        for node in chosen:
            node.scheduled += 1
        return self._refs([node.name for node in chosen])

    async def update_block_for_pipeline(self, path: str, client: str, block: tuple[int, int],
                                        nodes: list[str]) -> tuple[int, int]:
        """Pipeline recovery: logs the block's next genstamp and remembers the repaired
        pipeline; returns (block id, new genstamp)."""
        paths.validate(path)
        block_id = check_id(block[0], f"{path}: block")
        fs = self.fs
        fs.leases.renew(client, mono_ms())
        pipeline: list[str] = []

        def validate() -> list:
            records, names = pipeline_recovery.bump_genstamp(
                fs.ns, fs.registry, path, client, block_id, block[1], nodes)
            pipeline.extend(names)
            return records

        records = await fs.mutate(path, validate)
        fs.bm.uc_targets[block_id] = pipeline
        return block_id, records[-1]["gs"]

    def report_bad_blocks(self, replicas: list[tuple[int, int, str]]) -> None:
        if len(replicas) > MAX_BAD_REPLICAS_PER_REPORT:
            raise errors.InvalidArgument(f"more than {MAX_BAD_REPLICAS_PER_REPORT} bad replicas")
        for block_id, genstamp, node in replicas:
            check_id(block_id, "bad replica")
            self.fs.bm.report_bad(node, block_id, genstamp)

    def safe_mode(self, action: str, caller: Caller | None = None) -> tuple[bool, str]:
        if action != "GET" and caller is not None:
            perm.check_super(caller, "safe mode")
        if action == "ENTER":
            self.fs.safemode.enter()
        elif action == "LEAVE":
            self.fs.safemode.leave()
        elif action != "GET":
            raise errors.InvalidArgument(f"safe mode: unknown action {action!r}")
        return self.fs.safemode.on, self.fs.safemode.reason()

    # ---------------------------------------------------------------- reads

    def get_file_info(self, path: str, caller: Caller | None = None) -> FileView:
        self._check(caller, paths.validate(path))
        node = self.fs.ns.get(path)
        if node is None:
            raise errors.FileNotFound(f"{path}: no such file or directory")
        return file_view(node, path)

    def list_status(self, path: str, start_after: str, limit: int,
                    caller: Caller | None = None) -> tuple[list[FileView], bool]:
        paths.validate(path)
        is_dir = isinstance(self.fs.ns.get(path), INodeDirectory)
        self._check(caller, path, access=READ_EXECUTE if is_dir else 0)
        nodes, more = self.fs.ns.list(path, start_after, limit)
        node = self.fs.ns.get(path)
        if isinstance(node, INodeFile):
            return [file_view(node, path)], False
        return [file_view(n, paths.join(path, n.name)) for n in nodes], more

    def content_summary(self, path: str, caller: Caller | None = None) -> namespace.Summary:
        self._check(caller, paths.validate(path), sub_access=READ_EXECUTE)
        return self.fs.ns.content_summary(path)

    def stats(self) -> StatsView:
        return self.fs.stats()

    def get_block_locations(self, path: str, offset: int, length: int,
                            client_node: str, caller: Caller | None = None) -> LocatedBlocksView:
        paths.validate(path)
        self._check(caller, path, access=fsmode.READ)
        file = self.fs.ns.get_file(path)
        end = offset + length if length else None
        found, pos = [], 0
        for block in file.blocks:
            start, pos = pos, pos + block.length
            if end is not None and start >= end:
                break
            # An unwritten last block (length 0) belongs to any range reaching it.
            if pos > offset or (block.length == 0 and start >= offset):
                locations, corrupt = self._read_locations(block, client_node)
                found.append(LocatedBlockView(block.id, block.genstamp, block.length, start,
                                              locations, corrupt))
        return LocatedBlocksView(file.length(), found, file.under_construction)

    def _read_locations(self, block: BlockInfo, client_node: str) -> tuple[list[NodeRef], bool]:
        registry = self.fs.registry
        replicas = dict(block.replicas or {})
        if not block.committed:
            for name in self.fs.bm.uc_targets.get(block.id, []):
                replicas.setdefault(name, IN_BUILD)
        usable = (READY, OPENING) if block.committed else (READY, OPENING, IN_BUILD)
        good = [n for n, s in replicas.items() if s in usable and registry.is_live(n)]
        if not good:
            bad = [n for n, s in replicas.items() if s == CORRUPT and registry.get(n) is not None]
            return self._refs(bad), bool(bad)
        local = registry.get(client_node) if client_node else None
        rack = local.rack if local is not None else None

        def rank(name: str) -> tuple:
            node = registry.nodes[name]
            return (name != client_node, node.rack != rack, replicas[name] != READY)
        # Equally near replicas in a load-weighted random order (replica_choice.py):
        # sequential readers spread over every holder.
        ordered = replica_choice.order_replicas(
            good, rank, lambda name: registry.nodes[name].active_transfers, self._rng)
        return self._refs(ordered), False

    def _refs(self, names: list[str]) -> list[NodeRef]:
        nodes = self.fs.registry.nodes
        return [NodeRef(n, nodes[n].address, nodes[n].rack) for n in names if n in nodes]

    def _offset(self, block: BlockInfo) -> int:
        offset = 0
        for b in block.file.blocks:
            if b is block:
                return offset
            offset += b.length
        return offset

    def datanode_report(self) -> list[DatanodeView]:
        now = mono_ms()
        counts = self.fs.bm.blocks_per_node()
        states = self.fs.bm.replica_states_per_node()
        return [DatanodeView(NodeRef(n.name, n.address, n.rack), n.report_state, n.capacity,
                             n.used, n.remaining, now - n.last_heartbeat_ms,
                             counts.get(n.name, 0), n.active_transfers,
                             {fsck.STATE_WORDS.get(s, s): c for s, c in states.get(n.name, {}).items()},
                             n.volumes)
                for n in sorted(self.fs.registry.nodes.values(), key=lambda n: n.name)]

    def fsck(self, path: str, list_files: bool, max_files: int,
             caller: Caller | None = None) -> fsck.FsckReport:
        paths.validate(path)
        self._check(caller, path)
        return fsck.fsck(self.fs.ns, self.fs.bm, self.fs.registry, path, list_files,
                         max_files or fsck.DEFAULT_MAX_FILES)

    async def decommission(self, name: str, cancel: bool, caller: Caller | None = None) -> str:
        """Starts draining DataNode `name` (or puts it back in service); its state after.
        Logged, so it survives restarts and failovers; allowed in safe mode (as HDFS's
        refreshNodes)."""
        fs = self.fs
        if caller is not None:
            perm.check_super(caller, "decommission")
        node = fs.registry.get(name)
        if node is None:
            raise errors.InvalidArgument(f"{name}: no such DataNode")
        records = fs.ns.set_datanode_excluded(name, not cancel)
        if records:
            fs.log_edits(records)
            await fs.sync()
        return node.report_state
