"""The DataNode's side of block tokens: may this call move this block's bytes?

Used by minidfs/datanode/service.py (ReadBlock, WriteBlock, GetReplicaInfo,
TransferReplica) in secure mode; the keys arrive from the NameNodes' registration
and heartbeat replies (datanode/namenode_link.py calls `update`). A user's call
needs a token from the LocatedBlock, sent as the TOKEN_METADATA call metadata,
valid for that block, mode and user. DataNodes and NameNodes are HDFS's COPY role:
a pipeline forwarding a client's packets, re-replication and balancing move
replicas between DataNodes without a user's token. A refusal is PERMISSION_DENIED
before any byte is read or written.
"""
from __future__ import annotations

import time
from typing import Any, Iterable

from minidfs import errors
from minidfs.security import block_tokens, peer

TOKEN_METADATA = "minidfs-block-token-bin"
COPY_ROLES = frozenset({"datanode", "namenode"})


def token_metadata(token: bytes) -> tuple[tuple[str, bytes], ...]:
    """The call metadata that carries a block token (none for an empty token)."""
    return ((TOKEN_METADATA, token),) if token else ()


def _token_of(context: Any) -> bytes:
    for key, value in context.invocation_metadata() or ():
        if key == TOKEN_METADATA:
            return value if isinstance(value, bytes) else b""
    return b""


class BlockAccess:
    def __init__(self) -> None:
        self.ring = block_tokens.KeyRing()

    def update(self, keys: Iterable[Any]) -> None:
        self.ring.update([block_tokens.BlockKey(k.key_id, k.secret, k.expiry_ms) for k in keys],
                         int(time.time() * 1000))

    def check_redirect(self, text: str, path: str, user: str, mode: str) -> None:
        """A WebHDFS redirect's `blocktoken` must be the NameNode's, for this path,
        user and mode (namenode_tokens.redirect_token)."""
        try:
            block_tokens.verify(self.ring.keys, block_tokens.from_text(text) if text else b"",
                                block_id=block_tokens.path_id(path), mode=mode,
                                now_ms=int(time.time() * 1000), user=user)
        except block_tokens.TokenError as e:
            raise errors.PermissionDeniedError(f"{path}: redirect {e}") from None

    def check(self, context: Any, block_id: int, modes: tuple[str, ...]) -> None:
        """Returns when the caller may use `block_id` in one of `modes`."""
        subject = peer.grpc_subject(context)
        if subject is None:
            raise errors.Unauthenticated("secure mode: no client certificate")
        if subject.kind in COPY_ROLES:
            return
        token = _token_of(context)
        now = int(time.time() * 1000)
        user = subject.user if subject.is_user else None
        why = "no block token"
        for mode in modes:
            try:
                block_tokens.verify(self.ring.keys, token, block_id=block_id, mode=mode,
                                    now_ms=now, user=user)
                return
            except block_tokens.TokenError as e:
                why = str(e)
        raise errors.PermissionDeniedError(f"block {block_id}: {why}")
