"""Checkpoint images: the whole namespace at one txid, in <data_dir>/current/.

Called by the namesystem at start-up (load the newest image) and when it
checkpoints (every checkpoint_txns edits, every checkpoint_interval_s, at a
graceful stop). `serialize` / `deserialize` are pure; `ImageStore` handles files.

File `fsimage_<txid>.img` (txid zero-padded to 19 digits):

    b"MDFSIMG1"
    msgpack stream:
      {"version": 3, "txid", "last_block_id", "last_genstamp", "inodes": N,
       "excluded_datanodes": [...], "quotas": [[inode_index, ns_quota, space_quota], ...]}
      N inode entries, parents before children (entry 0 is the root):
        directory: [0, parent_index, name, mtime_ms, owner, group, mode]
        file:      [1, parent_index, name, mtime_ms, replication, block_size,
                    lease_holder_or_nil, [[block_id, genstamp, length, state], ...],
                    owner, group, mode]
    u64 little-endian xxh3_64 of every byte before it

Version 1 images (before permissions) have no owner, group and mode: they load
with the namespace's default owner and group (the NameNode's user, the superuser
group) and modes 0755 / 0644. Version 2 images (before quotas) have no "quotas":
they load with none. A quota's use is not stored: it is measured again at load.

Written to a temporary name, fsynced, renamed, directory fsynced. Replica
locations are not stored: DataNodes report them again after a restart.
"""
from __future__ import annotations

import pathlib
import re
import struct
import sys
from typing import NamedTuple

import msgpack
import xxhash

from minidfs.errors import EditLogCorrupt
from minidfs import durable
from minidfs.namenode.inode import BlockInfo, INodeDirectory, INodeFile
from minidfs.namenode.namespace import DEFAULT_DIR_MODE, DEFAULT_FILE_MODE, Namespace

MAGIC = b"MDFSIMG1"
VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
IMAGES_KEPT = 2
_TRAILER = struct.Struct("<Q")
_IMAGE = re.compile(r"^fsimage_(\d+)\.img$")


def image_name(txid: int) -> str:
    return f"fsimage_{txid:019d}.img"


def serialize(ns: Namespace, txid: int) -> bytes:
    packer = msgpack.Packer(use_bin_type=True)
    entries = []
    index: dict[int, int] = {}
    for node in ns.walk():
        parent = index[id(node.parent)] if node.parent is not None else -1
        index[id(node)] = len(entries)
        if isinstance(node, INodeFile):
            blocks = [[b.id, b.genstamp, b.length, b.state] for b in node.blocks]
            entries.append(packer.pack([1, parent, node.name, node.mtime_ms, node.replication,
                                        node.block_size, node.client, blocks,
                                        node.owner, node.group, node.mode]))
        else:
            entries.append(packer.pack([0, parent, node.name, node.mtime_ms,
                                        node.owner, node.group, node.mode]))
    quotas = sorted([index[id(node)], q.names_quota, q.space_quota]
                    for node, q in ns.quota.dirs.items())
    header = packer.pack({"version": VERSION, "txid": txid, "last_block_id": ns.last_block_id,
                          "last_genstamp": ns.last_genstamp, "inodes": len(entries),
                          "excluded_datanodes": sorted(ns.excluded_datanodes),
                          "quotas": quotas})
    body = MAGIC + header + b"".join(entries)
    return body + _TRAILER.pack(xxhash.xxh3_64_intdigest(body))


def deserialize(data: bytes, name: str, owner: str = "", group: str = "") -> tuple[Namespace, int]:
    """The namespace and txid of an image. Raises EditLogCorrupt when damaged.
    owner / group: the namespace's defaults (see Namespace)."""
    if len(data) < len(MAGIC) + _TRAILER.size or not data.startswith(MAGIC):
        raise EditLogCorrupt(f"{name}: not a minidfs checkpoint image")
    body, (checksum,) = data[:-_TRAILER.size], _TRAILER.unpack(data[-_TRAILER.size:])
    if xxhash.xxh3_64_intdigest(body) != checksum:
        raise EditLogCorrupt(f"{name}: checkpoint image checksum mismatch")
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=max(len(body), 1 << 20))
    unpacker.feed(body[len(MAGIC):])
    try:
        return _build(unpacker, owner, group)
    except (ValueError, KeyError, TypeError, IndexError, StopIteration,
            msgpack.UnpackException) as e:
        raise EditLogCorrupt(f"{name}: malformed checkpoint image: {e}") from None


def _build(unpacker: msgpack.Unpacker, owner: str, group: str) -> tuple[Namespace, int]:
    header = next(unpacker)
    if header["version"] not in READABLE_VERSIONS:
        raise ValueError(f"unsupported image version {header['version']}")
    ns = Namespace(owner=owner, group=group)
    with_permissions = header["version"] >= 2
    ns.last_block_id = header["last_block_id"]
    ns.last_genstamp = header["last_genstamp"]
    # Optional: images written before decommissions were logged do not have it.
    ns.excluded_datanodes = {str(name) for name in header.get("excluded_datanodes", [])}
    nodes: list[INodeDirectory | INodeFile] = []
    for _ in range(header["inodes"]):
        entry = next(unpacker)
        kind, parent_index, name, mtime = entry[:4]
        if with_permissions:
            perm = entry[-3:]
            if not (isinstance(perm[0], str) and isinstance(perm[1], str)
                    and isinstance(perm[2], int)):
                raise ValueError(f"entry {len(nodes)}: owner, group, mode {perm!r}")
            node_owner, node_group, mode = sys.intern(perm[0]), sys.intern(perm[1]), perm[2]
        else:
            node_owner, node_group = ns.default_owner, ns.default_group
            mode = DEFAULT_DIR_MODE if kind == 0 else DEFAULT_FILE_MODE
        if parent_index < 0:
            ns.root.mtime_ms = mtime
            ns.root.owner, ns.root.group, ns.root.mode = node_owner, node_group, mode
            nodes.append(ns.root)
            continue
        parent = nodes[parent_index]
        if not isinstance(parent, INodeDirectory):
            raise ValueError(f"entry {len(nodes)}: parent is a file")
        if kind == 0:
            node: INodeDirectory | INodeFile = INodeDirectory(name, parent, mtime, node_owner,
                                                              node_group, mode)
            ns.directories += 1
        else:
            node = INodeFile(name, parent, mtime, entry[4], entry[5], entry[6], node_owner,
                             node_group, mode)
            node.blocks = [BlockInfo(b, gs, node, length, state) for b, gs, length, state in entry[7]]
            ns.files += 1
        parent.children[name] = node
        nodes.append(node)
    quotas = header.get("quotas", []) if header["version"] >= 3 else []
    for node_index, names_quota, space_quota in quotas:
        quota_dir = nodes[node_index] if 0 <= node_index < len(nodes) else None
        if not (isinstance(quota_dir, INodeDirectory) and isinstance(names_quota, int)
                and isinstance(space_quota, int)):
            raise ValueError(f"quota of entry {node_index}: {names_quota!r} / {space_quota!r}")
        ns.quota.set(quota_dir, names_quota, space_quota)
    return ns, header["txid"]


class Image(NamedTuple):
    txid: int
    path: pathlib.Path


class ImageStore:
    def __init__(self, directory: pathlib.Path) -> None:
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.dir.glob("fsimage_*.img.tmp"):
            leftover.unlink()   # a checkpoint that crashed before its rename

    def images(self) -> list[Image]:
        found = [Image(int(m.group(1)), p) for p in self.dir.iterdir()
                 if (m := _IMAGE.match(p.name))]
        return sorted(found)

    def load_newest(self, owner: str = "", group: str = "") -> tuple[Namespace, int]:
        """The newest image, or an empty namespace at txid 0 when there is none.
        owner / group: the namespace's defaults (see Namespace)."""
        images = self.images()
        if not images:
            return Namespace(owner=owner, group=group), 0
        newest = images[-1]
        ns, txid = deserialize(newest.path.read_bytes(), str(newest.path), owner, group)
        if txid != newest.txid:
            raise EditLogCorrupt(f"{newest.path}: holds txid {txid}, not {newest.txid}")
        return ns, txid

    def write(self, txid: int, data: bytes) -> None:
        """Blocking: run it in an executor."""
        durable.write_atomic(self.dir / image_name(txid), data)

    def tmp_path(self, txid: int) -> pathlib.Path:
        """Where an image is written before install() (removed at start if left)."""
        return self.dir / (image_name(txid) + ".tmp")

    def install(self, txid: int) -> int:
        """Renames a fully written tmp_path(txid) into place; returns its size.
        Blocking: run it in an executor."""
        final = self.dir / image_name(txid)
        durable.rename_durably(self.tmp_path(txid), final)
        return final.stat().st_size

    def prune(self) -> int:
        """Keeps the newest IMAGES_KEPT images; returns the oldest kept txid (0 if none),
        up to which edit segments are no longer needed."""
        images = self.images()
        for old in images[:-IMAGES_KEPT]:
            old.path.unlink()
        kept = images[-IMAGES_KEPT:]
        return kept[0].txid if kept else 0
