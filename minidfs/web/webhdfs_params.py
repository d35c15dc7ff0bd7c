"""WebHDFS request parameters: the path and query of `/webhdfs/v1<path>?op=...`. Pure.

Parameter names are case-insensitive and the op is upper-cased, as Hadoop's ParamFilter
does. Every value is checked here (a bad one is InvalidArgument, 400): booleans are
true / false, numbers are decimal integers within bounds, paths are canonical DFS
paths (one trailing slash is forgiven, as HDFS does; `//`, `.`, `..` and NUL are not).
When a parameter repeats, the last one counts: Hadoop's client appends `offset` to a
redirect URL that may already carry one.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from minidfs import errors, paths

PREFIX = "/webhdfs/v1"
MAX_PARAM_CHARS = 4096
MAX_BYTES_PARAM = 1 << 62
# The simple-auth identity parameter (the permissions work makes it count).
USER_PARAM = "user.name"
# Secure mode: the NameNode's token in a redirect to a DataNode (docs/security.md).
TOKEN_PARAM = "blocktoken"


class Params:
    """The query of one request, names lower-cased, last value winning."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for name, value in items:
            if len(value) > MAX_PARAM_CHARS:
                raise errors.InvalidArgument(f"{name}: value longer than {MAX_PARAM_CHARS} characters")
            self._values[name.lower()] = value

    @classmethod
    def of(cls, query: Mapping[str, str] | Iterable[tuple[str, str]]) -> "Params":
        items = query.items() if hasattr(query, "items") else query
        return cls(items)  # type: ignore[arg-type]

    def op(self) -> str:
        op = self._values.get("op", "")
        if not op:
            raise errors.InvalidArgument("op: missing (e.g. ?op=LISTSTATUS)")
        return op.upper()

    def text(self, name: str, default: str = "") -> str:
        return self._values.get(name, default)

    def user(self, default: str) -> str:
        user = self._values.get(USER_PARAM, "") or default
        if len(user) > 256 or not user.isprintable() or "/" in user:
            raise errors.InvalidArgument(f"{USER_PARAM}: {user[:64]!r} is not a user name")
        return user

    def boolean(self, name: str, default: bool) -> bool:
        value = self._values.get(name)
        if value is None or value == "":
            return default
        word = value.lower()
        if word not in ("true", "false"):
            raise errors.InvalidArgument(f"{name}: {value!r} is not true or false")
        return word == "true"

    def integer(self, name: str, default: int | None, low: int, high: int) -> int | None:
        """A decimal integer in [low, high]; `default` when absent (or "null")."""
        value = self._values.get(name)
        if value is None or value == "" or value.lower() == "null":
            return default
        try:
            number = int(value, 10)
        except ValueError:
            raise errors.InvalidArgument(f"{name}: {value[:64]!r} is not an integer") from None
        if not low <= number <= high:
            raise errors.InvalidArgument(f"{name}: {number} is not between {low} and {high}")
        return number

    def offset(self) -> int:
        return self.integer("offset", 0, 0, MAX_BYTES_PARAM)  # type: ignore[return-value]

    def length(self) -> int | None:
        return self.integer("length", None, 0, MAX_BYTES_PARAM)

    def replication(self) -> int:
        """0 = the cluster's default; 1..32767 as Hadoop's short (the NameNode's own
        limit, 512, is checked by the namespace)."""
        value = self.integer("replication", 0, 1, 32767)
        return value or 0

    def block_size(self) -> int:
        return self.integer("blocksize", 0, 1, MAX_BYTES_PARAM) or 0

    def permission(self) -> int | None:
        """An octal mode 0..1777 (accepted; modes count once permissions land)."""
        value = self._values.get("permission")
        if value is None or value == "" or value.lower() == "null":
            return None
        try:
            mode = int(value, 8)
        except ValueError:
            raise errors.InvalidArgument(f"permission: {value[:64]!r} is not an octal mode") from None
        if not 0 <= mode <= 0o1777:
            raise errors.InvalidArgument(f"permission: {value} is not between 0 and 1777")
        return mode

    def dfs_path(self, name: str) -> str:
        value = self._values.get(name)
        if not value:
            raise errors.InvalidArgument(f"{name}: missing")
        return clean_path(value)


def clean_path(path: str) -> str:
    """The DFS path a URL names ("" is the root); raises InvalidPath."""
    if path == "":
        return "/"
    if len(path) > 1 and path.endswith("/") and not path.endswith("//"):
        path = path[:-1]
    return paths.validate(path)
