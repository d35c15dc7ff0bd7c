"""The rest of `hdfs dfs` as Client operations: cp, head, touchz, test, getmerge,
checksum, find.

Called by minidfs/cli/dfs_extra_commands.py (and usable from Python with any
minidfs.Client). Each takes a Client and DFS paths (relative ones from
/user/<user>) and raises minidfs.errors classes, so the shell prints one line.

checksum: HDFS's getFileChecksum computes MD5-of-MD5-of-CRC32 over a file's
per-chunk CRCs without moving its data; here each DataNode hashes the stored
xxh3 checksums of its replica (DataTransfer.BlockChecksum, the meta file only),
and the file checksum is the MD5 of those per-block MD5s in order. It equals for
two files with the same bytes, chunk size (64 KiB) and block size; a different
block size gives a different checksum (as in HDFS).
"""
from __future__ import annotations

import fnmatch
import hashlib
import os
import pathlib
import secrets
from typing import Any, Callable, Iterator

import grpc

from minidfs import errors, paths
from minidfs.rpc import channels
from minidfs.rpc import client_namenode_pb2 as pb
from minidfs.rpc import common_pb2
from minidfs.rpc import datatransfer_pb2, datatransfer_pb2_grpc
from minidfs.rpc.status import from_rpc_error

COPY_CHUNK_BYTES = 4 * 1024 * 1024
HEAD_BYTES = 1024
TEST_FLAGS = ("e", "d", "f", "z")
MAX_FIND_GLOB_CHARS = 1024


# ---- cp ------------------------------------------------------------------------

def copy(client: Any, src: str, dst: str, overwrite: bool = False,
         progress: Callable[[int], None] | None = None) -> list[str]:
    """`cp`: copies a file or a directory tree within the cluster; into dst when it is
    an existing directory (as `hdfs dfs -cp`). Everything is checked first: onto
    itself or into its own subtree is refused, and without overwrite no destination
    file may exist yet, so a refused copy changes nothing. New files get the
    cluster's default replication and block size (HDFS's -cp without -p). Returns
    the files written."""
    src, dst = client.resolve(src), client.resolve(dst)
    info = client.info(src)
    target = dst
    dst_info = info_or_none(client, dst)
    if dst_info is not None and dst_info["type"] == "directory":
        target = paths.join(dst, paths.basename(src)) if src != "/" else dst
    if target == src:
        raise errors.InvalidArgument(f"{src}: source and destination are the same")
    if info["type"] == "directory" and paths.is_under(target, src):
        raise errors.InvalidArgument(f"{target}: is inside the source directory {src}")
    plan = _copy_plan(client, src, target, info)
    for _, to, kind in plan:
        existing = info_or_none(client, to)
        if existing is None:
            continue
        if kind == "directory" and existing["type"] != "directory":
            raise errors.FileExists(f"{to}: file exists (not a directory)")
        if kind == "file" and (existing["type"] == "directory" or not overwrite):
            raise errors.FileExists(f"{to}: file exists" + ("" if existing["type"] == "directory"
                                                            else " (use -f to overwrite)"))
    written = []
    for frm, to, kind in plan:
        if kind == "directory":
            client.mkdir(to, parents=True)
        else:
            _copy_file(client, frm, to, overwrite, progress)
            written.append(to)
    return written


def _copy_plan(client: Any, src: str, target: str, info: dict) -> list[tuple[str, str, str]]:
    if info["type"] == "file":
        return [(src, target, "file")]
    plan = [(src, target, "directory")]
    for entry in client.ls(src, recursive=True):
        rel = entry["path"][len(src.rstrip("/")):]
        plan.append((entry["path"], target.rstrip("/") + rel, entry["type"]))
    return plan


def _copy_file(client: Any, frm: str, to: str, overwrite: bool,
               progress: Callable[[int], None] | None) -> None:
    with client.open(frm, "rb") as reader:
        writer = client.open(to, "wb", overwrite=overwrite)
        try:
            while True:
                data = reader.read(COPY_CHUNK_BYTES)
                if not data:
                    break
                writer.write(data)
                if progress:
                    progress(len(data))
            writer.close()
        except BaseException:
            _abandon(client, writer, to)
            raise


def _abandon(client: Any, writer: Any, path: str) -> None:
    """A copy that failed midway leaves no partial file behind."""
    try:
        writer.close()
    except Exception:   # noqa: BLE001 - the first error is the one to report
        pass
    try:
        client.delete(path)
    except errors.MinidfsError:
        pass


def info_or_none(client: Any, path: str) -> dict | None:
    try:
        return client.info(path)
    except errors.FileNotFound:
        return None


# ---- head / touchz / test -----------------------------------------------------------

def head(client: Any, path: str, size_bytes: int = HEAD_BYTES) -> bytes:
    """The first size_bytes of a file (`head`: 1 KiB, as HDFS)."""
    path = client.resolve(path)
    if client.info(path)["type"] == "directory":
        raise errors.IsADirectory(f"{path}: is a directory")
    with client.open(path, "rb") as f:
        return f.read(size_bytes)


def touchz(client: Any, path: str) -> None:
    """Creates an empty file; an existing empty file is left as it is, anything else
    refused (HDFS's touchz)."""
    path = client.resolve(path)
    existing = info_or_none(client, path)
    if existing is not None:
        if existing["type"] == "directory":
            raise errors.IsADirectory(f"{path}: is a directory")
        if existing["length"] != 0:
            raise errors.FileExists(f"{path}: not a zero-length file")
        return
    client.open(path, "wb").close()


def test(client: Any, flag: str, path: str) -> bool:
    """`test -e|-d|-f|-z`: exists, is a directory, is a file, has length zero."""
    if flag not in TEST_FLAGS:
        raise errors.InvalidArgument(f"-{flag}: not a test (use -e, -d, -f or -z)")
    info = info_or_none(client, client.resolve(path))
    if info is None:
        return False
    return {"e": True, "d": info["type"] == "directory", "f": info["type"] == "file",
            "z": info["length"] == 0}[flag]


# ---- getmerge -------------------------------------------------------------------------

def getmerge(client: Any, src: str, local: str | os.PathLike[str], newline: bool = False) -> int:
    """Concatenates the files of directory src (its direct children, by name; or the
    file src itself) into one local file, written aside and renamed into place so
    the local name only ever holds the whole result. Returns the bytes written."""
    src = client.resolve(src)
    info = client.info(src)
    files = [info] if info["type"] == "file" else sorted(
        (e for e in client.ls(src) if e["type"] == "file"), key=lambda e: e["path"])
    target = pathlib.Path(local)
    if target.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(target))
    partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.minidfs-partial")
    written = 0
    try:
        with open(partial, "wb") as out:
            for entry in files:
                with client.open(entry["path"], "rb") as f:
                    while data := f.read(COPY_CHUNK_BYTES):
                        out.write(data)
                        written += len(data)
                if newline:
                    out.write(b"\n")
                    written += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return written


# ---- checksum ----------------------------------------------------------------------

def checksum(client: Any, path: str) -> dict[str, Any]:
    """{"path", "algorithm", "checksum" (hex), "length", "blocks"}; see the module
    docstring for what it equals."""
    path = client.resolve(path)
    info = client.info(path)
    if info["type"] == "directory":
        raise errors.IsADirectory(f"{path}: is a directory")
    if info["under_construction"]:
        raise errors.PreconditionFailed(f"{path}: is open for writing; checksum it once closed")
    located = client.namenode.call("GetBlockLocations", pb.GetBlockLocationsRequest(
        path=path, offset=0, length=0, client_node=client.client_node))
    file_md5 = hashlib.md5()
    chunk_size = client.conf.settings.chunk_size_bytes
    for block in located.blocks:
        digest, chunk_size = _block_checksum(client, path, block)
        file_md5.update(digest)
    return {"path": path, "algorithm": f"MD5-of-MD5-of-{chunk_size}XXH3_64",
            "checksum": file_md5.hexdigest(), "length": info["length"],
            "blocks": len(located.blocks)}


def _block_checksum(client: Any, path: str, block: Any) -> tuple[bytes, int]:
    """The block's MD5 from the first replica that answers."""
    last: BaseException | None = None
    for node in block.locations:
        request = datatransfer_pb2.BlockChecksumRequest(block=common_pb2.Block(
            id=block.block.id, genstamp=block.block.genstamp, length=block.block.length))
        try:
            with client.channel_pool.lease(node.address) as lease:
                reply = datatransfer_pb2_grpc.DataTransferStub(lease.channel).BlockChecksum(
                    request, timeout=channels.METADATA_DEADLINE_S)
        except grpc.RpcError as e:
            last = from_rpc_error(e)
            continue
        if reply.length != block.block.length:
            last = errors.ChecksumError(f"blk_{block.block.id} on {node.name}: "
                                        f"{reply.length} bytes, expected {block.block.length}")
            continue
        return reply.md5, reply.chunk_size
    raise errors.BlockMissingError(
        f"{path}: no DataNode could checksum blk_{block.block.id}" + (f": {last}" if last else ""))


# ---- find -----------------------------------------------------------------------------

def find(client: Any, path: str, name: str = "*", kind: str | None = None) -> Iterator[dict]:
    """The `ls` dicts of path and everything below it whose name matches the glob
    (fnmatch: *, ?, [...]; case-sensitive, as HDFS) and, with kind "f" / "d", that
    are files / directories. path itself is matched by its own name, as find(1)."""
    if len(name) > MAX_FIND_GLOB_CHARS:
        raise errors.InvalidArgument(f"-name: pattern longer than {MAX_FIND_GLOB_CHARS} characters")
    if kind not in (None, "f", "d"):
        raise errors.InvalidArgument(f"-type {kind}: use f or d")
    want = {None: None, "f": "file", "d": "directory"}[kind]
    root = client.info(path)
    below = client.ls(root["path"], recursive=True) if root["type"] == "directory" else []
    entries = [root] + below
    for entry in entries:
        base = paths.basename(entry["path"]) or "/"
        if fnmatch.fnmatchcase(base, name) and (want is None or entry["type"] == want):
            yield entry
