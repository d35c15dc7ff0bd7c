"""WebHDFS REST v1 on the NameNode's HTTP face: `/webhdfs/v1<path>?op=...`.

A translator beside client_servicer.py: it parses the query (webhdfs_params.py), calls
the same ClientOperations the gRPC service calls, and shapes Apache's JSON
(webhdfs_json.py); errors become RemoteExceptions (webhdfs_errors.py). Data never
passes through the NameNode: OPEN, CREATE, APPEND and GETFILECHECKSUM answer
`307 Temporary Redirect` with a self-contained `Location` on a DataNode's HTTP face
(`noredirect=true`: 200 {"Location": ...}), chosen as HDFS does: a replica holder
on the caller's host first for reads, the first pipeline target for writes.

A NameNode that is not the serving active answers every op with StandbyException,
so HA-aware clients (HdfsCLI with several URLs, Hadoop with a nameservice) move on.
`user.name` is parsed and validated, and carried into redirects; it is the caller's
identity once permissions exist (docs/http.md). Ops are listed in docs/http.md.
"""
from __future__ import annotations

import getpass
import time
import urllib.parse
from typing import Awaitable, Callable

from aiohttp import web

from minidfs import errors, fsmode, paths
from minidfs.config import ClusterConfig
from minidfs.namenode.limits import Limits
from minidfs.namenode import audit, namespace, placement, quota
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.inode import INodeDirectory
from minidfs.namenode.namesystem import Namesystem, mono_ms
from minidfs.namenode.throttle import UserThrottle
from minidfs.namenode.views import FileView
from minidfs.security import http_tls
from minidfs.web.webhdfs_params import TOKEN_PARAM
from minidfs.web import webhdfs_json as shapes
from minidfs.web import webhdfs_reply as reply
from minidfs.web.face import HttpFace
from minidfs.web.webhdfs_params import PREFIX, Params, clean_path

# Apache's identity for a request without user.name (hadoop.http.staticuser.user).
ANONYMOUS_USER = "dr.who"
CALLER_KEY = web.RequestKey("minidfs_webhdfs_caller", object)
DEFAULT_GROUP = "supergroup"
DIR_PERMISSION = "755"
FILE_PERMISSION = "644"
# Bytes per checksum chunk of GETFILECHECKSUM (HDFS's bytes-per-checksum default).
CHECKSUM_CHUNK_BYTES = 512
NOT_FOUND_SUFFIX = ": no such file or directory"


class WebHdfsNamenode:
    # Secure mode: signs the `blocktoken` of every redirect (set by mount).
    block_tokens = None

    def __init__(self, fs: Namesystem, conf: ClusterConfig,
                 throttle: UserThrottle | None = None,
                 audit_log: audit.AuditLog | None = None) -> None:
        self.fs = fs
        # The same per-user limits and audit log as the gRPC calls (namenode/throttle.py,
        # namenode/audit.py).
        self.throttle = throttle
        self.ops = audit.audited(ClientOperations(fs), audit_log)
        self.conf = conf
        self.nn_user = getpass.getuser()
        Op = Callable[[web.Request, str, Params], Awaitable[web.StreamResponse]]
        self.ops_by_method: dict[str, dict[str, Op]] = {
            "GET": {
                "OPEN": self.open, "GETFILESTATUS": self.get_file_status,
                "LISTSTATUS": self.list_status, "LISTSTATUS_BATCH": self.list_status_batch,
                "GETCONTENTSUMMARY": self.content_summary, "GETQUOTAUSAGE": self.quota_usage,
                "GETFILEBLOCKLOCATIONS": self.file_block_locations,
                "GET_BLOCK_LOCATIONS": self.get_block_locations,
                "GETHOMEDIRECTORY": self.home_directory,
                "GETSERVERDEFAULTS": self.server_defaults,
                "GETFILECHECKSUM": self.file_checksum,
            },
            "PUT": {
                "CREATE": self.create, "MKDIRS": self.mkdirs, "RENAME": self.rename,
                "SETREPLICATION": self.set_replication, "SETTIMES": self.set_times,
                "SETPERMISSION": self.set_permission, "SETOWNER": self.set_owner,
                "SETQUOTA": self.set_quota,
            },
            "POST": {"APPEND": self.append},
            "DELETE": {"DELETE": self.delete},
        }

    # ------------------------------------------------------------------ dispatch

    async def handle(self, request: web.Request) -> web.StreamResponse:
        params = Params.of(request.query)
        op = params.op()
        table = self.ops_by_method.get(request.method, {})
        handler = table.get(op)
        if handler is None:
            for method, ops in self.ops_by_method.items():
                if op in ops:
                    raise errors.InvalidArgument(f"op={op} must be sent with HTTP {method}")
            raise errors.InvalidArgument(f"op={op}: no such WebHDFS operation")
        path = clean_path(request.match_info.get("path", ""))
        user = fsmode.check_name(params.user(ANONYMOUS_USER), "user")
        request[CALLER_KEY] = self.fs.users.caller(user)
        audit.ORIGIN.set((f"/{request.remote}" if request.remote else "null", "webhdfs"))
        if self.throttle is None:
            return await self._serve(request, handler, path, params)
        self.throttle.admit(user, time.monotonic(), "WebHDFS request")
        try:
            return await self._serve(request, handler, path, params)
        finally:
            self.throttle.release(user)

    async def _serve(self, request: web.Request, handler, path: str,
                     params: Params) -> web.StreamResponse:
        now_ms = mono_ms()
        if not self.fs.ha.serving(now_ms):
            raise errors.StandbyError(
                f"Operation category {'READ' if request.method == 'GET' else 'WRITE'} is not "
                f"supported in state standby ({self.fs.ha.name}: {self.fs.ha.refusal(now_ms)})")
        try:
            return await handler(request, path, params)
        except errors.FileNotFound as e:
            if str(e).endswith(NOT_FOUND_SUFFIX):
                # Apache's words: clients such as HdfsCLI match "does not exist".
                raise errors.FileNotFound(f"File does not exist: {path}") from None
            raise

    # ------------------------------------------------------------------ helpers

    def _status(self, view: FileView, suffix: str) -> dict:
        node = self.fs.ns.get(view.path)
        owner = getattr(node, "owner", None) or self.nn_user
        group = getattr(node, "group", None) or DEFAULT_GROUP
        mode = getattr(node, "mode", None)
        permission = (format(mode, "o") if isinstance(mode, int)
                      else DIR_PERMISSION if view.is_dir else FILE_PERMISSION)
        children = len(node.children) if isinstance(node, INodeDirectory) else 0
        return shapes.file_status(view, suffix, shapes.Ownership(owner, group, permission),
                                  children)

    def _file(self, request: web.Request, path: str) -> FileView:
        view = self.ops.get_file_info(path, self._caller(request))
        if view.is_dir:
            raise errors.FileNotFound(f"Path is not a file: {path}")
        return view

    @staticmethod
    def _caller(request: web.Request):
        return request[CALLER_KEY]

    def _check_ancestors(self, path: str) -> None:
        """A file on the way to path is ParentNotDirectory (missing ones are created)."""
        ancestor = paths.parent(path)
        while ancestor != "/":
            node = self.fs.ns.get(ancestor)
            if node is not None:
                if not node.is_dir:
                    raise errors.NotADirectory(f"Parent path is not a directory: {ancestor}")
                return
            ancestor = paths.parent(ancestor)

    def _http_of(self, name: str) -> str:
        try:
            return self.conf.node(name).http_address
        except errors.ConfigError:
            return ""

    def _redirect(self, request: web.Request, datanode: str, path: str, op: str,
                  params: Params, extra: dict[str, str]) -> web.StreamResponse:
        http = self._http_of(datanode)
        if not http:
            raise errors.Unavailable(f"{datanode}: no HTTP address in {self.conf.path}")
        query = {"op": op, "user.name": params.user(ANONYMOUS_USER), **extra}
        if self.block_tokens is not None:
            # Secure mode: the DataNode serves the redirect only with this token.
            query[TOKEN_PARAM] = self.block_tokens.redirect_token(
                path, query["user.name"], write=op in ("CREATE", "APPEND"))
        location = (f"{http_tls.scheme()}://{http}{PREFIX}{urllib.parse.quote(path)}?"
                    f"{urllib.parse.urlencode(query)}")
        if params.boolean("noredirect", False):
            return reply.json_reply(request, {"Location": location})
        return reply.mark(request, web.Response(status=307, headers={"Location": location}))

    def _live_datanode(self, request: web.Request) -> str:
        """A live DataNode with an HTTP face, the caller's own host first."""
        local = self.conf.datanode_on_host(request.remote or "")
        live = [n.name for n in self.fs.registry.live_nodes() if self._http_of(n.name)]
        if not live:
            raise errors.Unavailable("no live DataNode to serve the request")
        if local is not None and local.name in live:
            return local.name
        return sorted(live)[0]

    # ------------------------------------------------------------------ reads

    async def get_file_status(self, request, path, params):
        view = self.ops.get_file_info(path, self._caller(request))
        return reply.json_reply(request, {"FileStatus": self._status(view, "")})

    async def list_status(self, request, path, params):
        statuses, start_after = [], ""
        while True:
            page, more = self.ops.list_status(path, start_after, namespace.LIST_LIMIT_MAX,
                                              self._caller(request))
            for view in page:
                suffix = "" if view.path == path and not view.is_dir else paths.basename(view.path)
                statuses.append(self._status(view, suffix))
            if not more or not page:
                break
            start_after = paths.basename(page[-1].path)
        return reply.json_reply(request, {"FileStatuses": {"FileStatus": statuses}})

    async def list_status_batch(self, request, path, params):
        start_after = params.text("startafter")
        page, more = self.ops.list_status(path, start_after, namespace.LIST_LIMIT_MAX,
                                          self._caller(request))
        node = self.fs.ns.get(path)
        remaining = 0
        if more and isinstance(node, INodeDirectory):
            last = paths.basename(page[-1].path)
            remaining = sum(1 for name in node.children if name > last)
        statuses = [self._status(v, "" if v.path == path and not v.is_dir else paths.basename(v.path))
                    for v in page]
        return reply.json_reply(request, {"DirectoryListing": {
            "partialListing": {"FileStatuses": {"FileStatus": statuses}},
            "remainingEntries": remaining}})

    async def content_summary(self, request, path, params):
        caller = self._caller(request)
        s = self.ops.content_summary(path, caller)
        names_quota, space_quota = self.ops.quotas(path, caller)
        return reply.json_reply(request, shapes.content_summary(
            s.length, s.file_count, s.directory_count, s.space_consumed,
            names_quota, space_quota))

    async def quota_usage(self, request, path, params):
        caller = self._caller(request)
        s = self.ops.content_summary(path, caller)
        names_quota, space_quota = self.ops.quotas(path, caller)
        return reply.json_reply(request, shapes.quota_usage(
            s.file_count + s.directory_count, names_quota, s.space_consumed, space_quota))

    async def set_quota(self, request, path, params):
        # Apache's parameters: Long.MAX_VALUE (the default) keeps a quota, -1 clears it.
        wanted = [params.integer(name, quota.MAX_QUOTA, -1, quota.MAX_QUOTA)
                  for name in ("namespacequota", "storagespacequota")]
        names_quota, space_quota = (None if v == quota.MAX_QUOTA else v for v in wanted)
        await self.ops.set_quota(path, names_quota, space_quota, self._caller(request))
        return reply.mark(request, web.Response(status=200))

    async def file_block_locations(self, request, path, params):
        view = self._located(request, path, params)
        return reply.json_reply(request, shapes.block_locations(view.blocks))

    async def get_block_locations(self, request, path, params):
        view = self._located(request, path, params)
        http_of = {r.name: self._http_of(r.name) for b in view.blocks for r in b.locations}
        return reply.json_reply(request, shapes.located_blocks(
            view.file_length, view.blocks, view.under_construction, http_of))

    def _located(self, request: web.Request, path: str, params: Params):
        self._file(request, path)
        local = self.conf.datanode_on_host(request.remote or "")
        length = params.length()
        return self.ops.get_block_locations(path, params.offset(), length or 0,
                                            local.name if local else "", self._caller(request))

    async def home_directory(self, request, path, params):
        return reply.json_reply(request, {"Path": f"/user/{params.user(ANONYMOUS_USER)}"})

    async def server_defaults(self, request, path, params):
        s = self.fs.settings
        return reply.json_reply(request, shapes.server_defaults(
            s.block_size_bytes, s.replication, CHECKSUM_CHUNK_BYTES, s.chunk_size_bytes))

    async def open(self, request, path, params):
        view = self._file(request, path)
        offset, length = params.offset(), params.length()
        if offset > view.length:
            raise errors.InvalidArgument(
                f"offset={offset} is beyond the end of {path} ({view.length} bytes)")
        extra = {"offset": str(offset)} if offset else {}
        if length is not None:
            extra["length"] = str(length)
        return self._redirect(request, self._read_datanode(request, path, offset), path,
                              "OPEN", params, extra)

    def _read_datanode(self, request: web.Request, path: str, offset: int) -> str:
        local = self.conf.datanode_on_host(request.remote or "")
        located = self.ops.get_block_locations(path, offset, 1, local.name if local else "",
                                               self._caller(request))
        holders = [r.name for b in located.blocks[:1] for r in b.locations if self._http_of(r.name)]
        if not holders:
            return self._live_datanode(request)
        same_host = [n for n in holders if local is not None and n == local.name]
        return (same_host or holders)[0]

    async def file_checksum(self, request, path, params):
        self._file(request, path)
        return self._redirect(request, self._read_datanode(request, path, 0), path,
                              "GETFILECHECKSUM", params, {})

    # ------------------------------------------------------------------ writes

    async def create(self, request, path, params):
        overwrite = params.boolean("overwrite", False)
        replication = params.replication()
        block_size = params.block_size()
        params.permission()
        params.integer("buffersize", None, 1, 1 << 30)
        limits = Limits(self.fs.settings)
        if replication:
            limits.check_replication(replication, path)
        if block_size:
            limits.check_block_size(block_size, path)
        self.fs.safemode.check(path)
        node = self.fs.ns.get(path)
        if path == "/" or (node is not None and node.is_dir):
            raise errors.IsADirectory(f"{path} already exists as a directory")
        if node is not None and not overwrite:
            raise errors.FileExists(f"{path} for client {request.remote} already exists")
        self._check_ancestors(path)
        settings = self.fs.settings
        local = self.conf.datanode_on_host(request.remote or "")
        first = placement.choose_targets(
            self.fs.registry.nodes.values(), 1, block_size or settings.block_size_bytes,
            writer=local.name if local else None)[0]
        extra = {"overwrite": "true" if overwrite else "false"}
        if replication:
            extra["replication"] = str(replication)
        if block_size:
            extra["blocksize"] = str(block_size)
        return self._redirect(request, first.name, path, "CREATE", params, extra)

    async def append(self, request, path, params):
        view = self._file(request, path)
        params.integer("buffersize", None, 1, 1 << 30)
        if view.under_construction:
            raise errors.LeaseError(f"{path}: file is being written by another client")
        self.fs.safemode.check(path)
        return self._redirect(request, self._read_datanode(request, path, 0), path,
                              "APPEND", params, {})

    async def mkdirs(self, request, path, params):
        await self.ops.mkdirs(path, True, None, self._caller(request), params.permission())
        return reply.json_reply(request, shapes.boolean(True))

    async def rename(self, request, path, params):
        destination = params.dfs_path("destination")
        try:
            await self.ops.rename(path, destination, None, self._caller(request))
        except (errors.FileNotFound, errors.FileExists, errors.NotADirectory):
            # HDFS's rename answers false, not an error, for these.
            return reply.json_reply(request, shapes.boolean(False))
        return reply.json_reply(request, shapes.boolean(True))

    async def delete(self, request, path, params):
        deleted = await self.ops.delete(path, params.boolean("recursive", False), None,
                                        self._caller(request))
        return reply.json_reply(request, shapes.boolean(deleted))

    async def set_replication(self, request, path, params):
        replication = params.replication()
        view = self.ops.get_file_info(path, self._caller(request))
        if view.is_dir:
            return reply.json_reply(request, shapes.boolean(False))
        if replication:
            await self.ops.set_replication(path, replication, self._caller(request))
        return reply.json_reply(request, shapes.boolean(True))

    async def set_times(self, request, path, params):
        mtime = params.integer("modificationtime", -1, -1, namespace.MAX_TIME_MS)
        params.integer("accesstime", -1, -1, namespace.MAX_TIME_MS)
        self.ops.get_file_info(path, self._caller(request))
        if mtime is not None and mtime >= 0:
            await self.ops.set_times(path, mtime, self._caller(request))
        return reply.mark(request, web.Response(status=200))

    async def set_permission(self, request, path, params):
        mode = params.permission()
        # Apache's default permission is 755 (for files as for directories).
        await self.ops.set_permission(path, format(0o755 if mode is None else mode, "o"),
                                      False, self._caller(request))
        return reply.mark(request, web.Response(status=200))

    async def set_owner(self, request, path, params):
        owner, group = params.text("owner") or None, params.text("group") or None
        await self.ops.set_owner(path, owner, group, False, self._caller(request))
        return reply.mark(request, web.Response(status=200))


def mount(face: HttpFace, fs: Namesystem, conf: ClusterConfig,
          throttle: UserThrottle | None = None,
          audit_log: audit.AuditLog | None = None) -> WebHdfsNamenode:
    """Adds /webhdfs/v1 to the NameNode's HTTP face."""
    webhdfs = WebHdfsNamenode(fs, conf, throttle, audit_log)
    if conf.settings.security == "tls" and face.enabled:
        from minidfs.security.namenode_tokens import BlockTokenIssuer

        webhdfs.block_tokens = BlockTokenIssuer.for_node(conf, face.node)
    reply.install(face.app)
    handler = reply.guarded(webhdfs.handle)
    face.app.router.add_route("*", PREFIX + "{path:.*}", handler)
    return webhdfs
