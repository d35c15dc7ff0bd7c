"""The NameNode's side of block tokens: stamps located blocks, hands keys out.

Set on the NameNode's servicers by minidfs/namenode/server.py in secure mode
(`ClientNamenodeServicer.block_tokens`, `DatanodeNamenodeServicer.block_tokens`):
every LocatedBlock a client gets carries a token for the caller's user (READ for
reads, WRITE and COPY for the blocks it writes), and every registration and
heartbeat reply carries the live block keys. The keys come from the master secret
in the NameNode's cert dir (`block-master.key`, 0600, the same file on both
NameNodes of an HA pair), so a standby that takes over verifies and signs the very
same keys. Thin: the signing is block_tokens.py's; here is the clock and protobuf.
"""
from __future__ import annotations

import time
from typing import Iterable

from minidfs.config import ClusterConfig, NodeConfig
from minidfs.rpc import common_pb2
from minidfs.security import block_tokens, credentials

MASTER_FILE = "block-master.key"
MASTER_BYTES = 32
READ_MODES = frozenset({block_tokens.READ})
WRITE_MODES = frozenset({block_tokens.WRITE, block_tokens.COPY})


def wall_ms() -> int:
    return int(time.time() * 1000)


class BlockTokenIssuer:
    def __init__(self, schedule: block_tokens.KeySchedule) -> None:
        self.schedule = schedule

    @classmethod
    def for_node(cls, conf: ClusterConfig, node: NodeConfig) -> "BlockTokenIssuer":
        path = credentials.daemon_cert_dir(conf, node) / MASTER_FILE
        credentials.check_private(path)
        master = path.read_bytes()
        if len(master) < MASTER_BYTES:
            raise credentials.SecurityConfigError(f"{path}: block key master secret too short")
        s = conf.settings
        return cls(block_tokens.KeySchedule(master, int(s.block_key_update_interval_s * 1000),
                                            int(s.block_token_lifetime_s * 1000)))

    def stamp(self, blocks: Iterable[common_pb2.LocatedBlock], user: str,
              modes: frozenset[str]) -> None:
        now = wall_ms()
        for located in blocks:
            located.block_token = self.schedule.issue(
                now, user=user, block_id=located.block.id, genstamp=located.block.genstamp,
                modes=modes)

    def redirect_token(self, path: str, user: str, write: bool) -> str:
        """The `blocktoken` of a WebHDFS redirect: this user, this path, READ (OPEN,
        GETFILECHECKSUM) or WRITE (CREATE, APPEND); checked by the DataNode's face."""
        return block_tokens.to_text(self.schedule.issue(
            wall_ms(), user=user, block_id=block_tokens.path_id(path), genstamp=0,
            modes=WRITE_MODES if write else READ_MODES))

    def keys(self) -> list[common_pb2.BlockKey]:
        return [common_pb2.BlockKey(key_id=k.key_id, secret=k.secret, expiry_ms=k.expiry_ms)
                for k in self.schedule.live_keys(wall_ms())]
