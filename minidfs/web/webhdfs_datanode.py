"""WebHDFS REST v1 on a DataNode's HTTP face: the data side the NameNode redirects to.

The NameNode's 307 `Location` names everything (op, path, offset, length, overwrite,
replication, blocksize, user.name), so clients that send nothing more work. Bytes move
through this DataNode's own `minidfs.Client` (client node = this DataNode), so reads
are the verified read path (checksums, failover to another replica, the local replica
first) and writes the normal 3-replica pipeline with this node first. Nothing is ever
buffered whole: OPEN streams COPY_CHUNK_BYTES at a time with a Content-Length, CREATE
reads the body (plain or chunked) as it arrives.

- OPEN: `offset` (a repeated one: the last wins, Hadoop appends its own), `length`.
- CREATE: the body goes to a hidden temporary file beside the target
  (`.<name>.<hex>._COPYING_`, which Hadoop input listings skip), renamed onto the
  target only after close succeeded at the NameNode, then 201. A client that drops
  the connection mid-body leaves no file, or the old file untouched with overwrite.
- APPEND: a real append (docs/append.md): the file is reopened under this node's
  client's lease and the body goes onto its end; a file another writer holds is
  403 AlreadyBeingCreatedException (whichever DataNode the other came through). An
  empty body changes nothing (fsspec's close sends one).
- GETFILECHECKSUM: Hadoop's MD5-of-MD5-of-CRC32 over 512-byte chunks per block, so a
  file with the same bytes and block size has the checksum HDFS computes with
  dfs.checksum.type = CRC32.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import secrets
import struct
import zlib
from typing import IO, Any

from aiohttp import web

from minidfs import errors, fsmode, paths
from minidfs.config import ClusterConfig, NodeConfig
from minidfs.web import webhdfs_reply as reply
from minidfs.web.face import HttpFace
from minidfs.web.webhdfs_params import PREFIX, TOKEN_PARAM, Params, clean_path

# Slices moved per thread hop: big, since every call into a block stream has a cost.
COPY_CHUNK_BYTES = 1024 * 1024
# Concurrent blocking client calls (each streaming request holds one at a time).
MAX_CLIENT_THREADS = 16
# Distinct user.name values served (a Client each, kept for the DataNode's life).
MAX_USERS = 256
ANONYMOUS_USER = "dr.who"
# Secure mode: the DataNode's BlockAccess on the face's app (set by datanode/server.py),
# which checks the NameNode's token in every redirect.
BLOCK_ACCESS_KEY = web.AppKey("minidfs_block_access", object)
CHECKSUM_CHUNK_BYTES = 512
CHECKSUM_BYTES_LENGTH = 28      # int bytesPerCRC + long crcPerBlock + 16-byte MD5
TEMP_SUFFIX = "._COPYING_"


def temp_path(path: str) -> str:
    return paths.join(paths.parent(path),
                      f".{paths.basename(path)}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


def chunk_crcs(data: memoryview) -> bytes:
    """The big-endian CRC32 of every 512-byte chunk of data (HDFS's block checksums);
    the MD5 of a block's CRCs is its part of the file checksum."""
    return b"".join(struct.pack(">I", zlib.crc32(data[i:i + CHECKSUM_CHUNK_BYTES]))
                    for i in range(0, len(data), CHECKSUM_CHUNK_BYTES))


def file_checksum(block_md5s: list[bytes], crc_per_block: int) -> dict[str, Any]:
    md5 = hashlib.md5(b"".join(block_md5s)).digest()
    raw = struct.pack(">iq", CHECKSUM_CHUNK_BYTES, crc_per_block) + md5
    return {"FileChecksum": {
        "algorithm": f"MD5-of-{crc_per_block}MD5-of-{CHECKSUM_CHUNK_BYTES}CRC32",
        "bytes": raw.hex(), "length": CHECKSUM_BYTES_LENGTH}}


class WebHdfsDatanode:
    def __init__(self, conf: ClusterConfig, node: NodeConfig) -> None:
        self.conf = conf
        self.node = node
        self._clients: dict[str, Any] = {}     # user.name -> that user's Client
        self._pool = concurrent.futures.ThreadPoolExecutor(
            MAX_CLIENT_THREADS, thread_name_prefix="webhdfs")

    def client(self, user: str):
        """The Client acting as `user` (one each: its lease covers that user's writes)."""
        client = self._clients.get(user)
        if client is None:
            if len(self._clients) >= MAX_USERS:
                raise errors.Unavailable(f"more than {MAX_USERS} distinct users on this DataNode")
            from minidfs.client.client import Client

            client = self._clients[user] = Client(self.conf, client_node=self.node.name,
                                                  user=user)
        return client

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def close(self, app: web.Application | None = None) -> None:
        for client in self._clients.values():
            await self._run(client.close)
        self._pool.shutdown(wait=False)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        params = Params.of(request.query)
        op = params.op()
        routes = {("GET", "OPEN"): self.open, ("PUT", "CREATE"): self.create,
                  ("POST", "APPEND"): self.append, ("GET", "GETFILECHECKSUM"): self.checksum}
        handler = routes.get((request.method, op))
        if handler is None:
            raise errors.InvalidArgument(
                f"op={op} with HTTP {request.method}: not a DataNode operation "
                f"(send it to the NameNode)")
        path = clean_path(request.match_info.get("path", ""))
        user = fsmode.check_name(params.user(ANONYMOUS_USER), "user")
        access = request.app.get(BLOCK_ACCESS_KEY)
        if access is not None:
            access.check_redirect(params.text(TOKEN_PARAM), path, user,
                                  "WRITE" if op in ("CREATE", "APPEND") else "READ")
        return await handler(request, path, params, self.client(user))

    # ------------------------------------------------------------------ reads

    async def open(self, request: web.Request, path: str, params: Params,
                   client) -> web.StreamResponse:
        offset, length = params.offset(), params.length()
        try:
            stream: IO[bytes] = await self._run(client.open, path, "rb")
        except errors.IsADirectory:
            raise errors.FileNotFound(f"Path is not a file: {path}") from None
        try:
            size = await self._run(lambda: stream.raw.length)
            if offset > size:
                raise errors.InvalidArgument(f"offset={offset} is beyond the end of {path} ({size} bytes)")
            count = size - offset if length is None else min(length, size - offset)
            if offset:
                await self._run(stream.seek, offset)
            first = await self._run(stream.read, min(COPY_CHUNK_BYTES, count)) if count else b""
            response = web.StreamResponse(headers={"Content-Length": str(count),
                                                   "Content-Type": "application/octet-stream"})
            reply.mark(request, response)
            await response.prepare(request)
            reply.streaming(request)
            sent, chunk = 0, first
            while chunk:
                sent += len(chunk)
                left = count - sent
                ahead = (asyncio.ensure_future(self._run(stream.read, min(COPY_CHUNK_BYTES, left)))
                         if left > 0 else None)
                try:
                    await response.write(chunk)
                except BaseException:
                    if ahead is not None:
                        await asyncio.gather(ahead, return_exceptions=True)
                    raise
                chunk = await ahead if ahead is not None else b""
            if sent != count:
                raise errors.MinidfsError(f"{path}: read {sent} of {count} bytes")
            await response.write_eof()
            return response
        finally:
            await self._run(stream.close)

    async def checksum(self, request: web.Request, path: str, params: Params,
                       client) -> web.StreamResponse:
        stat = await self._run(client.stat, path)
        if stat["type"] != "file":
            raise errors.FileNotFound(f"Path is not a file: {path}")
        blocks = stat["blocks"]

        def compute() -> list[bytes]:
            # COPY_CHUNK_BYTES is a multiple of 512, so slices keep chunk boundaries.
            digests = []
            with client.open(path, "rb") as f:
                for block in blocks:
                    md5, left = hashlib.md5(), block["length"]
                    while left:
                        data = f.read(min(COPY_CHUNK_BYTES, left))
                        if not data:
                            raise errors.MinidfsError(f"{path}: file changed while summing")
                        md5.update(chunk_crcs(memoryview(data)))
                        left -= len(data)
                    digests.append(md5.digest())
            return digests

        digests = await self._run(compute)
        crc_per_block = (-(-blocks[0]["length"] // CHECKSUM_CHUNK_BYTES)) if len(blocks) > 1 else 0
        return reply.json_reply(request, file_checksum(digests, crc_per_block))

    # ------------------------------------------------------------------ writes

    async def create(self, request: web.Request, path: str, params: Params,
                     client) -> web.StreamResponse:
        overwrite = params.boolean("overwrite", False)
        replication = params.replication() or None
        block_size = params.block_size() or None
        params.permission()
        await self._check_target(client, path, overwrite)
        await self._write_then_replace(client, request, path, overwrite, replication,
                                       block_size)
        namenode_http = self.conf.namenodes[0].http_address
        headers = {"Location": f"webhdfs://{namenode_http}{path}"} if namenode_http else {}
        return reply.mark(request, web.Response(status=201, headers=headers))

    async def append(self, request: web.Request, path: str, params: Params,
                     client) -> web.StreamResponse:
        params.integer("buffersize", None, 1, 1 << 30)
        info = await self._run(client.info, path)
        if info["type"] != "file":
            raise errors.FileNotFound(f"Path is not a file: {path}")
        first = await request.content.read(COPY_CHUNK_BYTES)
        if not first:   # appending nothing changes nothing (fsspec's close sends an empty one)
            return reply.mark(request, web.Response(status=200))
        writer = await self._run(client.open, path, "ab")
        try:
            await self._stream_body(request, writer, first)
        except BaseException:
            # The client went away mid-body (or the write failed): what reached the
            # pipeline stays (an append is not atomic, in HDFS either), the lease is
            # given back.
            await asyncio.shield(self._run(_close_quietly, writer))
            raise
        await self._run(writer.close)
        return reply.mark(request, web.Response(status=200))

    async def _check_target(self, client, path: str, overwrite: bool) -> None:
        try:
            info = await self._run(client.info, path)
        except errors.FileNotFound:
            return
        if info["type"] == "directory":
            raise errors.IsADirectory(f"{path} already exists as a directory")
        if not overwrite:
            raise errors.FileExists(f"{path} already exists")

    async def _write_then_replace(self, client, request: web.Request, path: str, overwrite: bool,
                                  replication: int | None, block_size: int | None,
                                  first: bytes = b"") -> None:
        """Body (`first`: its start, already read) -> temporary file ->
        rename onto path. Any failure, a dropped client included, removes the
        temporary file and leaves path as it was."""
        temp = temp_path(path)
        writer = await self._run(lambda: client.open(temp, "wb", replication=replication,
                                                     block_size=block_size))
        try:
            await self._stream_body(request, writer, first)
            await self._run(writer.close)
            await self._run(_replace, client, temp, path, overwrite)
        except BaseException:
            await asyncio.shield(self._run(_discard, client, writer, temp))
            raise

    async def _stream_body(self, request: web.Request, writer: IO[bytes], first: bytes) -> None:
        pending: asyncio.Future | None = None
        batch = bytearray(first)
        try:
            while True:
                data = await request.content.read(COPY_CHUNK_BYTES)
                if data:
                    batch += data
                if batch and (len(batch) >= COPY_CHUNK_BYTES or not data):
                    if pending is not None:
                        await pending
                    pending = asyncio.ensure_future(self._run(writer.write, batch))
                    batch = bytearray()
                if not data:
                    break
            if pending is not None:
                await pending
                pending = None
        finally:
            if pending is not None:
                await asyncio.gather(pending, return_exceptions=True)

def _replace(client, temp: str, path: str, overwrite: bool) -> None:
    if overwrite:
        try:
            if client.info(path)["type"] == "directory":
                raise errors.IsADirectory(f"{path} already exists as a directory")
            client.delete(path)
        except errors.FileNotFound:
            pass
    elif client.exists(path):
        raise errors.FileExists(f"{path} already exists")
    client.rename(temp, path)


def _discard(client, writer: IO[bytes], temp: str) -> None:
    try:
        client.delete(temp)
    except errors.MinidfsError:
        pass
    try:
        writer.close()
    except (errors.MinidfsError, OSError, ValueError):
        pass  # the file is gone: closing it cannot succeed and need not


def _close_quietly(writer: IO[bytes]) -> None:
    """Closes an APPEND's stream; one that cannot close (a failed pipeline) is left to
    lease recovery, which keeps every acknowledged byte."""
    try:
        writer.close()
    except (errors.MinidfsError, OSError, ValueError):
        pass


def mount(face: HttpFace, conf: ClusterConfig, node: NodeConfig) -> WebHdfsDatanode:
    """Adds the data side of /webhdfs/v1 to a DataNode's HTTP face; its client closes
    with the face."""
    webhdfs = WebHdfsDatanode(conf, node)
    reply.install(face.app)
    face.app.router.add_route("*", PREFIX + "{path:.*}", reply.guarded(webhdfs.handle))
    face.app.on_cleanup.append(webhdfs.close)
    return webhdfs
