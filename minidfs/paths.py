"""DFS path rules: absolute, canonical, bounded. Pure; used by client and servers.

A path is "/" or "/" followed by components joined by single slashes. Components
may not be empty, "." or "..", contain NUL or ":" (as HDFS: a colon reads as a URI
scheme or a Windows drive to Hadoop tools) or exceed 255 bytes (UTF-8); a whole
path may not exceed 4096 bytes. Servers re-validate every path they receive. Any
other character, newlines and control characters included, is a legal name: the
shell escapes them when it prints a name (cli/format.py), as GNU ls -b does. The
NameNode adds its own rules for names it creates (namenode/limits.py: the
/.reserved prefix, max_path_depth); docs/paths.md has them all.
"""
from __future__ import annotations

from minidfs.errors import InvalidPath

MAX_PATH_BYTES = 4096
MAX_COMPONENT_BYTES = 255


def validate(path: object) -> str:
    """Returns path unchanged if it is a canonical absolute DFS path, else raises InvalidPath."""
    if not isinstance(path, str) or path == "":
        raise InvalidPath("empty path")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise InvalidPath(f"{path[:64]}...: path longer than {MAX_PATH_BYTES} bytes")
    if not path.startswith("/"):
        raise InvalidPath(f"{path}: path must be absolute")
    if path == "/":
        return path
    if "\x00" in path:
        raise InvalidPath(f"{path!r}: path contains NUL")
    if path.endswith("/"):
        raise InvalidPath(f"{path}: trailing slash")
    for part in path[1:].split("/"):
        if part == "":
            raise InvalidPath(f"{path}: empty path component")
        if part in (".", ".."):
            raise InvalidPath(f"{path}: '.' and '..' are not allowed")
        if ":" in part:
            raise InvalidPath(f"{path}: ':' is not allowed in a name")
        if len(part.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES:
            raise InvalidPath(f"{path}: component longer than {MAX_COMPONENT_BYTES} bytes")
    return path


def components(path: str) -> list[str]:
    """The names along a validated path; [] for "/"."""
    return [] if path == "/" else path[1:].split("/")


def parent(path: str) -> str:
    """The parent of a validated path ("/" for "/" and top-level entries)."""
    if path == "/":
        return "/"
    head = path.rsplit("/", 1)[0]
    return head or "/"


def basename(path: str) -> str:
    return "" if path == "/" else path.rsplit("/", 1)[1]


def join(directory: str, name: str) -> str:
    return "/" + name if directory == "/" else directory + "/" + name


def normalize_user_path(path: str, cwd: str = "/") -> str:
    """What the shell does with what a user typed: a relative path is taken from
    cwd and one trailing slash is dropped ("put x /data/"). Everything else must
    already be canonical: "//", "." and ".." are refused (by validate), so nothing
    typed can point somewhere other than where it reads."""
    if not path:
        raise InvalidPath("empty path")
    if not path.startswith("/"):
        path = join(cwd, path)
    if len(path) > 1 and path.endswith("/") and not path.endswith("//"):
        path = path[:-1]
    return validate(path)


def is_under(path: str, ancestor: str) -> bool:
    """True if path is ancestor or lies below it."""
    return ancestor == "/" or path == ancestor or path.startswith(ancestor + "/")
