"""Text and JSON renderings of what the shell prints. Pure: plain dicts in, str out.

Used by the command modules of minidfs/cli/; the dicts come from minidfs.Client
(ls/stat/du/df) and cluster.LocalCluster (status), so `--json` output is exactly
those dicts and the tables are views of them.
"""
from __future__ import annotations

import datetime
import json
from typing import Any, Iterable, Sequence

from minidfs.fsmode import mode_string
from minidfs.sizes import format_size

STATUS_COLUMNS = ("name", "kind", "role", "address", "pid", "state")
# How an entry still being written shows in `ls` (`--json`: "under_construction").
UNDER_CONSTRUCTION_MARK = "  (under construction)"
_C_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\a": "\\a",
              "\b": "\\b", "\f": "\\f", "\v": "\\v"}


_HUMAN_PREFIXES = ("K", "M", "G", "T", "P", "E")


def human_size(n: int) -> str:
    """A size as `hdfs dfs -h` prints it (TraditionalBinaryPrefix.long2String(n, "", 1)):
    123, 64 K, 1.5 M, 1.0 T (a whole multiple shows no decimals); the same rule as
    quota_commands.human (count -h)."""
    if abs(n) < 1024:
        return str(n)
    exponent, value = 0, abs(n)
    while value >= 1024 and exponent < len(_HUMAN_PREFIXES):
        value /= 1024
        exponent += 1
    unit = 1024 ** exponent
    text = str(abs(n) // unit) if abs(n) % unit == 0 else f"{abs(n) / unit:.1f}"
    return f"{'-' if n < 0 else ''}{text} {_HUMAN_PREFIXES[exponent - 1]}"


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2)


def format_time_ms(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


def escape_name(name: str) -> str:
    """A name safe for line-oriented tools, as GNU `ls -b` prints it: C escapes for
    backslash and the usual control characters, octal UTF-8 bytes for any other
    character that does not print; everything else (spaces, letters of any script)
    as it is. `--json` output keeps names exact instead."""
    if name.isprintable() and "\\" not in name:
        return name
    out = []
    for ch in name:
        if ch in _C_ESCAPES:
            out.append(_C_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append("".join(f"\\{b:03o}" for b in ch.encode("utf-8", "surrogatepass")))
    return "".join(out)


def ls_lines(entries: Sequence[dict[str, Any]], *, header: bool, human: bool = False) -> list[str]:
    """`hdfs dfs -ls`'s long format: mode, replication ("-" for a directory), owner,
    group, length (human_size with -h), modified, path:
        -rw-r--r--   3 alice supergroup   1234 2026-12-01 18:38 /user/alice/a.txt"""
    lines = [f"Found {len(entries)} items"] if header else []
    size = human_size if human else str

    def replicas(e: dict[str, Any]) -> str:
        return "-" if e["type"] == "directory" else str(e["replication"])

    repl_w = max((len(replicas(e)) for e in entries), default=3)
    owner_w = max((len(e["owner"]) for e in entries), default=0)
    group_w = max((len(e["group"]) for e in entries), default=0)
    length_w = max((len(size(e["length"])) for e in entries), default=1)
    for e in entries:
        mode = mode_string(e["type"] == "directory", int(e["permission"], 8))
        mark = UNDER_CONSTRUCTION_MARK if e.get("under_construction") else ""
        lines.append(f"{mode} {replicas(e):>{max(repl_w, 3)}} {e['owner']:<{owner_w}} "
                     f"{e['group']:<{group_w}} {size(e['length']):>{length_w}} "
                     f"{format_time_ms(e['modified'])} {escape_name(e['path'])}{mark}")
    return lines


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> list[str]:
    """Left-aligned columns separated by two spaces; None shows as "-"."""
    cells = [[str(h) for h in headers]]
    cells += [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]


def status_lines(nodes: Sequence[dict[str, Any]]) -> list[str]:
    return table(([n[c] for c in STATUS_COLUMNS] for n in nodes),
                 [c.upper() for c in STATUS_COLUMNS])


def du_line(usage: dict[str, Any], human: bool = False) -> str:
    """`hdfs dfs -du -s` style: length, space consumed (all replicas), path."""
    size = human_size if human else str
    return f"{size(usage['length'])}  {size(usage['space_consumed'])}  {usage['path']}"


def df_lines(stats: dict[str, Any], filesystem: str, human: bool = False) -> list[str]:
    capacity = stats["capacity"]
    use = f"{100 * stats['used'] / capacity:.0f}%" if capacity else "-"
    size = human_size if human else (lambda n: n)
    return table([(filesystem, size(capacity), size(stats["used"]), size(stats["remaining"]), use)],
                 ("Filesystem", "Size", "Used", "Available", "Use%"))


def stat_lines(info: dict[str, Any]) -> list[str]:
    lines = [
        f"path: {escape_name(info['path'])}",
        f"type: {info['type']}",
        f"length: {info['length']}",
        f"modified: {format_time_ms(info['modified'])}",
        f"owner: {info['owner']}",
        f"group: {info['group']}",
        f"permission: {mode_string(info['type'] == 'directory', int(info['permission'], 8))}"
        f" ({info['permission']})",
    ]
    if info.get("under_construction"):
        lines.append("under construction: yes (open for writing, or its writer vanished)")
    if info["type"] == "file":
        lines += [
            f"replication: {info['replication']}",
            f"block size: {format_size(info['block_size'])}",
            f"blocks: {len(info['blocks'])}",
        ]
        for block in info["blocks"]:
            where = ", ".join(block["locations"]) or "no live replica"
            lines.append(f"  blk_{block['id']} offset {block['offset']} "
                         f"length {block['length']}: {where}")
    return lines
