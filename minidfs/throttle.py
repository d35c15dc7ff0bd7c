"""A token bucket: how long to wait before sending n bytes at a bytes/s rate. Pure.

Used by the DataNode's replica-copy path (datanode/commands.py hands one bucket,
shared by every copy the node runs, to transfer.send_block), so re-replication and
balancing traffic of one DataNode stays under `balance_bandwidth_bytes_per_s` (HDFS's
dfs.datanode.balance.bandwidthPerSec; `minidfs admin set-bandwidth` changes it live).

No clock inside: the caller passes the time it reads (the event loop's), so the unit
tests drive it with plain numbers. The bucket lets a sender take bytes on credit:
`reserve` always succeeds and returns the wait that pays the debt back, which keeps
one large message from stalling for ever when it is bigger than the burst.
"""
from __future__ import annotations

from minidfs import errors

# Bytes that may go at once after a quiet spell: a tenth of a second's worth, so a
# burst stays close to the rate over any second.
BURST_S = 0.1
MIN_RATE_BYTES_PER_S = 1


class TokenBucket:
    def __init__(self, rate_bytes_per_s: int, now_s: float = 0.0) -> None:
        self._check(rate_bytes_per_s)
        self.rate_bytes_per_s = rate_bytes_per_s
        self._tokens = self.burst_bytes
        self._at_s = now_s

    @staticmethod
    def _check(rate_bytes_per_s: int) -> None:
        if isinstance(rate_bytes_per_s, bool) or not isinstance(rate_bytes_per_s, int) \
                or rate_bytes_per_s < MIN_RATE_BYTES_PER_S:
            raise errors.InvalidArgument(
                f"{rate_bytes_per_s!r}: bandwidth must be a positive number of bytes/s")

    @property
    def burst_bytes(self) -> float:
        return max(1.0, self.rate_bytes_per_s * BURST_S)

    def _refill(self, now_s: float) -> None:
        if now_s > self._at_s:
            self._tokens = min(self.burst_bytes,
                               self._tokens + (now_s - self._at_s) * self.rate_bytes_per_s)
            self._at_s = now_s

    def set_rate(self, rate_bytes_per_s: int, now_s: float) -> None:
        """A new rate from now on; bytes already sent keep the debt they made."""
        self._check(rate_bytes_per_s)
        self._refill(now_s)
        self.rate_bytes_per_s = rate_bytes_per_s
        self._tokens = min(self._tokens, self.burst_bytes)

    def reserve(self, size_bytes: int, now_s: float) -> float:
        """Takes size_bytes now; returns the seconds to wait before sending them
        (0.0 when the bucket had them)."""
        if size_bytes < 0:
            raise errors.InvalidArgument(f"{size_bytes}: cannot reserve a negative size")
        self._refill(now_s)
        self._tokens -= size_bytes
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate_bytes_per_s
