"""Block tokens: what a DataNode checks before it moves a block's bytes (pure core).

HDFS's design (BlockTokenSecretManager): the NameNode hands out, with every located
block, a token `{key id, expiry, user, block id, genstamp, modes}` signed with
HMAC-SHA256 under a block key; DataNodes hold the same keys (sent in registration
and heartbeat replies) and verify the token before ReadBlock, WriteBlock or a
replica copy. A token names one block and the modes it allows, so a READ token
cannot write, a token for block 7 cannot read block 8, and a token of alice is not
bob's.

Block keys roll: key `k` is current during [k·interval, (k+1)·interval) and a token
signed with it stays valid for `lifetime` after that, so a DataNode keeps every key
a live token may name, plus the next one (a NameNode whose clock runs a little ahead
already signs with it). Keys are derived from the NameNodes' shared master secret
(HMAC(master, key id)): both NameNodes of an HA pair compute the very same keys, so
a token signed by the old active verifies after a failover without any state moving
between them (docs/decisions.md). The master never leaves the NameNodes.

No clock and no I/O here: callers pass `now_ms` (wall-clock ms: expiries must mean
the same on every host) and the master secret.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass

READ = "READ"
WRITE = "WRITE"
COPY = "COPY"
MODES = (READ, WRITE, COPY)
_MODE_BITS = {READ: 1, WRITE: 2, COPY: 4}
MAC_BYTES = 32
# version, key id, expiry ms, block id, genstamp, modes, user length
_HEADER = struct.Struct(">BIQQQBH")
VERSION = 1
MAX_USER_BYTES = 1024
MAX_TOKEN_BYTES = _HEADER.size + MAX_USER_BYTES + MAC_BYTES


class TokenError(Exception):
    """The token does not allow the operation: why, in words (never the secret)."""


@dataclass(frozen=True)
class BlockKey:
    key_id: int
    secret: bytes
    expiry_ms: int     # after this no token signed with it is valid


@dataclass(frozen=True)
class TokenId:
    key_id: int
    expiry_ms: int
    user: str
    block_id: int
    genstamp: int
    modes: frozenset[str]


def _encode_id(t: TokenId) -> bytes:
    user = t.user.encode()
    if len(user) > MAX_USER_BYTES:
        raise ValueError("user name too long for a block token")
    bits = 0
    for mode in t.modes:
        bits |= _MODE_BITS[mode]
    return _HEADER.pack(VERSION, t.key_id, t.expiry_ms, t.block_id, t.genstamp, bits,
                        len(user)) + user


def _decode_id(raw: bytes) -> TokenId:
    if len(raw) < _HEADER.size:
        raise TokenError("malformed block token")
    version, key_id, expiry_ms, block_id, genstamp, bits, user_len = _HEADER.unpack_from(raw)
    if version != VERSION or len(raw) != _HEADER.size + user_len:
        raise TokenError("malformed block token")
    try:
        user = raw[_HEADER.size:].decode()
    except UnicodeDecodeError:
        raise TokenError("malformed block token") from None
    modes = frozenset(m for m, bit in _MODE_BITS.items() if bits & bit)
    return TokenId(key_id, expiry_ms, user, block_id, genstamp, modes)


def _mac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).digest()


def sign(key: BlockKey, token_id: TokenId) -> bytes:
    body = _encode_id(token_id)
    return body + _mac(key.secret, body)


def decode(token: bytes) -> TokenId:
    """The identifier of a token, unverified (for messages and tests)."""
    if not MAC_BYTES < len(token) <= MAX_TOKEN_BYTES:
        raise TokenError("malformed block token")
    return _decode_id(token[:-MAC_BYTES])


def verify(keys: dict[int, BlockKey], token: bytes, *, block_id: int, mode: str,
           now_ms: int, user: str | None = None) -> TokenId:
    """The token's identifier when it allows `mode` on `block_id` (for `user`, when
    given) at `now_ms`; TokenError otherwise. The MAC is checked before any field is
    trusted, in constant time."""
    if not token:
        raise TokenError("no block token")
    token_id = decode(token)
    key = keys.get(token_id.key_id)
    if key is None:
        raise TokenError(f"block token signed with unknown key {token_id.key_id}")
    body = token[:-MAC_BYTES]
    if not hmac.compare_digest(_mac(key.secret, body), token[-MAC_BYTES:]):
        raise TokenError("block token signature does not match")
    if now_ms > token_id.expiry_ms or now_ms > key.expiry_ms:
        raise TokenError("block token expired")
    if token_id.block_id != block_id:
        raise TokenError(f"block token is for block {token_id.block_id}, not {block_id}")
    if mode not in token_id.modes:
        raise TokenError(f"block token does not allow {mode}")
    if user is not None and token_id.user != user:
        raise TokenError(f"block token is for another user than {user}")
    return token_id


def path_id(path: str) -> int:
    """The "block id" of a WebHDFS redirect token: a 63-bit digest of the path, so a
    redirect's token opens that path only (namenode_tokens.redirect_token)."""
    return int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big") >> 1


def to_text(token: bytes) -> str:
    """URL-safe text of a token (WebHDFS Location parameters)."""
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def from_text(text: str) -> bytes:
    if len(text) > 2 * MAX_TOKEN_BYTES:
        raise TokenError("malformed block token")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise TokenError("malformed block token") from None


@dataclass(frozen=True)
class KeySchedule:
    """Which block keys exist when, derived from the master secret."""

    master: bytes
    interval_ms: int
    lifetime_ms: int

    def key(self, key_id: int) -> BlockKey:
        secret = hmac.new(self.master, b"minidfs block key " + struct.pack(">I", key_id),
                          hashlib.sha256).digest()
        return BlockKey(key_id, secret, (key_id + 1) * self.interval_ms + self.lifetime_ms)

    def current_id(self, now_ms: int) -> int:
        return (now_ms // self.interval_ms) & 0xFFFFFFFF

    def current(self, now_ms: int) -> BlockKey:
        return self.key(self.current_id(now_ms))

    def live_keys(self, now_ms: int) -> list[BlockKey]:
        """Every key a token valid at now_ms may name, and the next one."""
        current = self.current_id(now_ms)
        back = -(-self.lifetime_ms // self.interval_ms)
        return [k for k in (self.key(i) for i in range(max(0, current - back), current + 2))
                if k.expiry_ms >= now_ms]

    def issue(self, now_ms: int, *, user: str, block_id: int, genstamp: int,
              modes: frozenset[str]) -> bytes:
        key = self.current(now_ms)
        expiry = min(now_ms + self.lifetime_ms, key.expiry_ms)
        return sign(key, TokenId(key.key_id, expiry, user, block_id, genstamp, modes))


class KeyRing:
    """A DataNode's view of the block keys: what its NameNodes last sent."""

    MAX_KEYS = 64

    def __init__(self) -> None:
        self.keys: dict[int, BlockKey] = {}

    def update(self, keys: list[BlockKey], now_ms: int) -> None:
        for key in keys:
            self.keys[key.key_id] = key
        for key_id in [k for k, v in self.keys.items() if v.expiry_ms < now_ms]:
            del self.keys[key_id]
        while len(self.keys) > self.MAX_KEYS:
            del self.keys[min(self.keys)]
