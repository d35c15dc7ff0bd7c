"""Permission bits, user names and modes as text. Pure; used by the NameNode (its
checks and messages), the Client (umask, chmod) and the shell (`ls`, `chmod`).

Modes are HDFS's (POSIX-like) 12-bit integers: owner / group / other rwx plus the
sticky bit 0o1000 (setuid and setgid mean nothing in HDFS and are refused). A mode
as the user types it is octal (`755`, `1777`, `0644`) or symbolic
(`u+x,go-w`, `a=rX`, `+t`), as `hdfs dfs -chmod` takes it.
"""
from __future__ import annotations

import re

from minidfs.errors import InvalidArgument

READ = 4
WRITE = 2
EXECUTE = 1
STICKY = 0o1000
ALL_BITS = 0o1777

FILE_DEFAULT = 0o666      # before the umask, as HDFS's FsPermission.getFileDefault()
DIR_DEFAULT = 0o777
DEFAULT_UMASK = 0o022
MAX_USER_CHARS = 256      # user and group names

# HDFS's FsAction names, the `access=` word of a denial.
ACTION_NAMES = {
    0: "NONE", EXECUTE: "EXECUTE", WRITE: "WRITE", WRITE | EXECUTE: "WRITE_EXECUTE",
    READ: "READ", READ | EXECUTE: "READ_EXECUTE", READ | WRITE: "READ_WRITE",
    READ | WRITE | EXECUTE: "ALL",
}

_SYMBOLIC = re.compile(r"^([ugoa]*)([+=-])([rwxXt]*)$")
_OCTAL = re.compile(r"^0?[0-1]?[0-7]{3}$")


def check_name(name: object, what: str = "user") -> str:
    """A user or group name: 1..256 printable characters, no ':' (OWNER:GROUP
    separates them), no whitespace, no NUL."""
    if not isinstance(name, str) or name == "":
        raise InvalidArgument(f"empty {what} name")
    if len(name) > MAX_USER_CHARS:
        raise InvalidArgument(f"{name[:32]}...: {what} name longer than {MAX_USER_CHARS} characters")
    if ":" in name or not name.isprintable() or any(c.isspace() for c in name):
        raise InvalidArgument(f"{name!r}: not a valid {what} name "
                              "(no ':', whitespace or control characters)")
    return name


def parse_umask(text: object) -> int:
    """cluster.toml's `umask`: an octal string ("022") or an int already octal-valued."""
    if isinstance(text, int) and not isinstance(text, bool) and 0 <= text <= 0o777:
        return text
    if isinstance(text, str) and re.fullmatch(r"0?[0-7]{3}", text):
        return int(text, 8)
    raise InvalidArgument(f"{text!r}: umask must be three octal digits, e.g. \"022\"")


def apply_umask(mode: int, umask: int) -> int:
    return mode & ~umask & ALL_BITS


def parse_mode(text: str, current: int, is_dir: bool) -> int:
    """The new mode of an inode whose mode is `current` after `chmod text`."""
    if not isinstance(text, str) or not text:
        raise InvalidArgument("empty mode")
    if text.isdigit():
        if not _OCTAL.match(text):
            raise InvalidArgument(f"{text}: not a valid mode (octal 000 to 1777, or symbolic like u+x,go-w)")
        return int(text, 8)
    mode = current & ALL_BITS
    # As Hadoop's chmod: X means "execute if a directory or already executable by
    # anyone" judged on the mode before this chmod, not between its clauses.
    exe_ok = is_dir or bool(mode & 0o111)
    for clause in text.split(","):
        match = _SYMBOLIC.match(clause)
        if match is None:
            raise InvalidArgument(f"{text}: not a valid mode (octal 000 to 1777, or symbolic like u+x,go-w)")
        who, op, perms = match.groups()
        mode = _apply_clause(mode, who or "a", op, perms, exe_ok)
    return mode


def _apply_clause(mode: int, who: str, op: str, perms: str, exe_ok: bool) -> int:
    bits = 0
    for p in perms:
        if p == "r":
            bits |= READ
        elif p == "w":
            bits |= WRITE
        elif p == "x" or (p == "X" and exe_ok):
            bits |= EXECUTE
    mask = 0
    for w in who:
        if w in "ua":
            mask |= bits << 6
        if w in "ga":
            mask |= bits << 3
        if w in "oa":
            mask |= bits
    sticky = STICKY if "t" in perms else 0
    if op == "+":
        return mode | mask | sticky
    if op == "-":
        return mode & ~(mask | sticky)
    cleared = 0
    for w in who:
        cleared |= {"u": 0o700, "g": 0o070, "o": 0o007, "a": 0o777}[w]
    if "a" in who or "o" in who:
        cleared |= STICKY   # `o=` and `a=` set the sticky bit to what they say
    return (mode & ~cleared) | mask | sticky


def mode_string(is_dir: bool, mode: int) -> str:
    """`ls`'s ten characters: drwxr-xr-x, -rw-r--r--, drwxrwxrwt (sticky)."""
    chars = ["d" if is_dir else "-"]
    for shift in (6, 3, 0):
        bits = (mode >> shift) & 7
        chars += ["r" if bits & READ else "-", "w" if bits & WRITE else "-",
                  "x" if bits & EXECUTE else "-"]
    if mode & STICKY:
        chars[-1] = "t" if mode & EXECUTE else "T"
    return "".join(chars)


def octal(mode: int) -> str:
    """`ls --json`'s "permission": "644", "1777" (HDFS WebHDFS's shape)."""
    return format(mode & ALL_BITS, "o")
