"""The NameNode's trash emptier (HDFS's TrashPolicyDefault.Emptier).

Ticked by the namesystem (namesystem.py) on the active NameNode out of safe mode.
Every checkpoint interval it goes through /user/*/.Trash: deletes the checkpoints
older than trash_interval_s and renames Current to a new checkpoint named after
the time (layout and names: minidfs/trash.py). Both are ordinary logged edits
(DELETE, RENAME) made through `Namesystem.mutate`, so they reach the standby and
survive a restart like any other change; a failed run is tried again next time.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from minidfs import errors, paths, trash
from minidfs.namenode.inode import INodeDirectory

if TYPE_CHECKING:
    from minidfs.namenode.namesystem import Namesystem

log = logging.getLogger("minidfs.namenode.trash")

# Users' trash roots one run goes through (the rest wait for the next run).
MAX_TRASH_ROOTS_PER_RUN = 10_000


class TrashEmptier:
    def __init__(self, fs: "Namesystem") -> None:
        self.fs = fs
        self._last_run_ms: int | None = None

    def interval_ms(self) -> int:
        """0 when the trash is off."""
        settings = self.fs.settings
        deletion_s = settings.trash_interval_s
        if deletion_s <= 0:
            return 0
        checkpoint_s = settings.trash_checkpoint_interval_s
        if checkpoint_s <= 0 or checkpoint_s > deletion_s:
            checkpoint_s = deletion_s
        return max(int(checkpoint_s * 1000), 1)

    async def tick(self, now_mono_ms: int, now_wall_ms: int) -> None:
        interval = self.interval_ms()
        if not interval:
            return
        if self._last_run_ms is None:
            self._last_run_ms = now_mono_ms     # the first run one interval after start
            return
        if now_mono_ms - self._last_run_ms < interval:
            return
        self._last_run_ms = now_mono_ms
        try:
            await self.run(now_wall_ms)
        except errors.MinidfsError as e:   # safe mode, stepping down: next time
            log.warning("trash emptier: %s", e)

    def trash_roots(self) -> list[str]:
        users = self.fs.ns.get(trash.USER_DIR)
        if not isinstance(users, INodeDirectory):
            return []
        roots = []
        for name in sorted(users.children)[:MAX_TRASH_ROOTS_PER_RUN]:
            home = users.children[name]
            if isinstance(home, INodeDirectory) and isinstance(home.children.get(trash.TRASH),
                                                               INodeDirectory):
                roots.append(trash.root(name))
        return roots

    async def run(self, now_wall_ms: int) -> None:
        deletion_ms = int(self.fs.settings.trash_interval_s * 1000)
        for root in self.trash_roots():
            node = self.fs.ns.get(root)
            if not isinstance(node, INodeDirectory):
                continue
            for name in trash.expired(list(node.children), now_wall_ms, deletion_ms):
                path = paths.join(root, name)
                await self.fs.mutate(path, lambda p=path: self.fs.ns.delete(p, True, now_wall_ms))
                log.info("deleted trash checkpoint %s", path)
                self.fs.events.emit("trash_expired", path=path)
            if trash.CURRENT in node.children:
                target = paths.join(root, trash.new_checkpoint(list(node.children), now_wall_ms))
                current = paths.join(root, trash.CURRENT)
                await self.fs.mutate(current, lambda c=current, t=target:
                                     self.fs.ns.rename(c, t, now_wall_ms))
                log.info("created trash checkpoint %s", target)
                self.fs.events.emit("trash_checkpoint", path=target)
