"""The NameNode's status pages (docs/observe.md), on its HTTP face:

- `/`: overview (capacity, files, blocks, DataNodes live / dead / decommissioning,
  under-replicated / missing / corrupt blocks, safe mode, HA role, epoch, last
  txid), the DataNodes table and the newest events. Rendered whole on the server
  (readable without JavaScript); namenode.js refreshes it from /api/status every
  second and events.js appends events from /events/stream as they happen.
- `/explorer?path=/dir`: the file browser - a directory's entries, or a file's
  blocks with the DataNodes holding each replica and its state.
- `/api/status`: the overview and DataNodes as JSON (what the script polls).

Both NameNodes serve them; a standby's page says so and links to the other
NameNodes' pages. Everything is read from the namesystem on the daemon's loop;
the DataNode table's per-node block counts walk the block map, so one computed
status is shared by every poll within STATUS_REUSE_S.
"""
from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from minidfs import errors, paths
from minidfs.config import ClusterConfig
from minidfs.namenode import fsck
from minidfs.namenode.client_ops import ClientOperations
from minidfs.namenode.datanode_registry import DECOMMISSIONING
from minidfs.namenode.namesystem import Namesystem, mono_ms
from minidfs.web import pages
from minidfs.web.face import HttpFace
from minidfs.web.pages import esc

STATUS_REUSE_S = 0.5
MAX_LISTING = 1000
DN_HEADERS = ["Name", "State", "Address", "Rack", "Last contact", "Capacity", "Used",
              "Remaining", "Blocks", "Replica states", "Transfers"]


class NamenodePages:
    def __init__(self, fs: Namesystem, conf: ClusterConfig) -> None:
        self.fs = fs
        self.ops = ClientOperations(fs)
        self.conf = conf
        self.name = fs.ha.name
        self._status: dict[str, Any] | None = None
        self._status_at = -1.0

    # ---- data ------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._status is None or now - self._status_at >= STATUS_REUSE_S:
            self._status = self._compute_status()
            self._status_at = now
        return self._status

    def _compute_status(self) -> dict[str, Any]:
        fs = self.fs
        stats = fs.stats()
        serving = fs.ha.serving(mono_ms())
        http = {n.name: n.http_address for n in self.conf.nodes.values()}
        datanodes = [{
            "name": d.node.name, "state": d.state, "address": d.node.address,
            "rack": d.node.rack, "http": http.get(d.node.name, ""),
            "last_contact_s": round(d.last_contact_ms / 1000, 1), "capacity": d.capacity,
            "used": d.used, "remaining": d.remaining, "blocks": d.blocks,
            "replica_states": d.replica_states, "active_transfers": d.active_transfers,
        } for d in self.ops.datanode_report()]
        if stats.missing or stats.corrupt:
            health = fsck.CORRUPT_STATUS
        elif stats.under_replicated:
            health = "UNDER-REPLICATED"
        else:
            health = fsck.HEALTHY
        return {
            "name": self.name, "role": fs.ha.role, "ha_state": fs.ha.word,
            "serving": serving, "ha": fs.ha.enabled, "epoch": fs.ha.epoch,
            "last_change": fs.ha.last_change, "last_txid": stats.last_txid,
            "safe_mode": stats.safe_mode, "safe_mode_reason": fs.safemode.reason(),
            "capacity": stats.capacity, "used": stats.used, "remaining": stats.remaining,
            "files": stats.files, "blocks": stats.blocks,
            "under_replicated": stats.under_replicated, "missing": stats.missing,
            "corrupt": stats.corrupt, "live_datanodes": stats.live_datanodes,
            "dead_datanodes": stats.dead_datanodes,
            "decommissioning_datanodes": sum(1 for d in datanodes
                                             if d["state"] == DECOMMISSIONING),
            "health": health, "datanodes": datanodes,
            "other_namenodes": [{"name": n.name, "http": n.http_address}
                                for n in self.conf.namenodes if n.name != self.name],
        }

    # ---- pages -----------------------------------------------------------------

    async def overview(self, request: web.Request) -> web.Response:
        s = self.status()
        body = (self._header(s) + "<main>" + self._standby_note(s) + overview_html(s)
                + datanodes_html(s["datanodes"])
                + pages.events_table(self.fs.events.ring.newest(pages.PAGE_EVENTS)) + "</main>")
        return pages.page(f"minidfs NameNode {self.name}", body,
                          ("namenode.js", "events.js"), data={"page": "overview"})

    async def api_status(self, request: web.Request) -> web.Response:
        return web.json_response(self.status())

    async def explorer(self, request: web.Request) -> web.Response:
        path = request.query.get("path", "/")
        if "\x00" in path or ".." in path.split("/") or len(path) > pages.MAX_PATH_CHARS:
            return pages.error_page(400, "Bad Request",
                                    f"{path!r}: a path may not contain '..' or NUL characters")
        try:
            path = paths.validate(path)
            info = self.ops.get_file_info(path)
            inner = self._file(path) if not info.is_dir else self._directory(path)
        except errors.FileNotFound as e:
            return pages.error_page(404, "Not Found", str(e))
        except errors.MinidfsError as e:
            return pages.error_page(400, "Bad Request", str(e))
        s = self.status()
        body = (self._header(s) + "<main>" + self._standby_note(s) + breadcrumbs(path)
                + inner + "</main>")
        return pages.page(f"{path} - minidfs", body)

    def _directory(self, path: str) -> str:
        entries, more = self.ops.list_status(path, "", MAX_LISTING)
        rows = []
        for e in entries:
            link = f'<a href="/explorer?path={esc(_quote(e.path))}">{esc(paths.basename(e.path))}' \
                   f'{"/" if e.is_dir else ""}</a>'
            rows.append([link, "dir" if e.is_dir else "file",
                         "-" if e.is_dir else esc(pages.size(e.length)),
                         "-" if e.is_dir else str(e.replication),
                         "-" if e.is_dir else esc(pages.size(e.block_size)),
                         esc(pages.wall(e.mtime_ms))])
        note = f"<p class=\"note\">First {MAX_LISTING} entries shown.</p>" if more else ""
        empty = "<p>(empty directory)</p>" if not rows else ""
        return (f"<section><h2>Directory {esc(path)}</h2>" + self._quota_note(path)
                + pages.table(["Name", "Type", "Size", "Replication", "Block size", "Modified"],
                              rows, "listing") + empty + note + "</section>")

    def _quota_note(self, path: str) -> str:
        """The directory's quotas as the NameNode enforces them (docs/quotas.md)."""
        q = self.fs.ns.quota.get(self.fs.ns.get(path))
        if q is None:
            return ""
        parts = []
        if q.names_quota >= 0:
            parts.append(f"{q.names_used} of {q.names_quota} names")
        if q.space_quota >= 0:
            parts.append(f"{esc(pages.size(q.space_used))} of {esc(pages.size(q.space_quota))} "
                         "of replicas (the block being written counts whole)")
        return f'<p class="note">Quota: {"; ".join(parts)}.</p>'

    def _file(self, path: str) -> str:
        info = self.ops.get_file_info(path)
        file = self.fs.ns.get_file(path)
        rows, offset = [], 0
        nodes = self.fs.registry.nodes
        for block in file.blocks:
            holders = []
            for node, state in sorted((block.replicas or {}).items()):
                live = node in nodes and nodes[node].live
                word = fsck.replica_word(block, state)
                holders.append(f'<span class="replica r-{esc(word.lower())}">{esc(node)} '
                               f'({esc(word)}{"" if live else ", node dead"})</span>')
            live_count = len(self.fs.bm.live_replicas(block))
            rows.append([str(block.id), str(block.genstamp), str(offset),
                         esc(pages.size(block.length)),
                         f"{live_count} / {block.expected_replication}",
                         " ".join(holders) or "none"])
            offset += block.length
        uc = " (being written)" if info.under_construction else ""
        return (f"<section><h2>File {esc(path)}{uc}</h2><p>{esc(pages.size(info.length))}, "
                f"replication {info.replication}, block size {esc(pages.size(info.block_size))}, "
                f"{len(file.blocks)} block(s), modified {esc(pages.wall(info.mtime_ms))}</p>"
                + pages.table(["Block", "Genstamp", "Offset", "Length", "Live replicas",
                               "DataNodes (replica state)"], rows, "blocks") + "</section>")

    def _header(self, s: dict[str, Any]) -> str:
        role = ("active" if s["serving"] else "observer" if s["role"] == "observer"
                else "standby" if s["role"] != "active" else "not serving")
        return (f'<header><h1>minidfs NameNode <b>{esc(self.name)}</b> '
                f'<span id="role" class="role role-{esc(role.replace(" ", "-"))}">{esc(role)}</span></h1>'
                f'<nav><a href="/">Overview</a> <a href="/explorer?path=/">Browse the file '
                f'system</a> <a href="/metrics">Metrics</a></nav></header>')

    def _standby_note(self, s: dict[str, Any]) -> str:
        if s["serving"]:
            return '<div id="standby-note"></div>'
        links = " or ".join(f'<a href="http://{esc(o["http"])}/">{esc(o["name"])}</a>'
                            for o in s["other_namenodes"] if o["http"])
        return (f'<div id="standby-note" class="banner">This NameNode is a <b>standby</b> '
                f'({esc(s["ha_state"])}): it does not serve clients. The active NameNode\'s '
                f'page: {links or "(no other NameNode configured)"}.</div>')


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def breadcrumbs(path: str) -> str:
    parts = ['<a href="/explorer?path=/">/</a>']
    so_far = ""
    for name in paths.components(path):
        so_far += "/" + name
        parts.append(f'<a href="/explorer?path={esc(_quote(so_far))}">{esc(name)}</a>')
    return f'<p class="crumbs">{" / ".join(parts)}</p>'


def overview_html(s: dict[str, Any]) -> str:
    used_pct = f" ({100 * s['used'] / s['capacity']:.1f}%)" if s["capacity"] else ""
    rows = [
        ("Status", f'<b class="health h-{esc(s["health"].lower())}">{esc(s["health"])}</b>',
         "health"),
        ("HA role", f'{esc(s["role"])} ({esc(s["ha_state"])}), epoch {s["epoch"]}', "ha"),
        ("Safe mode", "ON: " + esc(s["safe_mode_reason"]) if s["safe_mode"] else "off",
         "safe_mode"),
        ("Last txid", str(s["last_txid"]), "last_txid"),
        ("Capacity", esc(pages.size(s["capacity"])), "capacity"),
        ("Used", esc(pages.size(s["used"])) + used_pct, "used"),
        ("Remaining", esc(pages.size(s["remaining"])), "remaining"),
        ("Files", str(s["files"]), "files"),
        ("Blocks", str(s["blocks"]), "blocks"),
        ("Live DataNodes", str(s["live_datanodes"]), "live_datanodes"),
        ("Dead DataNodes", str(s["dead_datanodes"]), "dead_datanodes"),
        ("Decommissioning DataNodes", str(s["decommissioning_datanodes"]),
         "decommissioning_datanodes"),
        ("Under-replicated blocks", str(s["under_replicated"]), "under_replicated"),
        ("Missing blocks", str(s["missing"]), "missing"),
        ("Corrupt blocks", str(s["corrupt"]), "corrupt"),
    ]
    cells = "".join(f'<tr><th>{esc(label)}</th><td id="ov-{key}">{value}</td></tr>'
                    for label, value, key in rows)
    return f'<section><h2>Overview</h2><table class="overview">{cells}</table></section>'


def datanode_row(d: dict[str, Any]) -> list[str]:
    states = " ".join(f"{k}={v}" for k, v in sorted(d["replica_states"].items())) or "-"
    return [esc(d["name"]), f'<span class="dn-state s-{esc(d["state"])}">{esc(d["state"])}</span>',
            esc(d["address"]), esc(d["rack"]), f'{d["last_contact_s"]:g} s ago',
            esc(pages.size(d["capacity"])), esc(pages.size(d["used"])),
            esc(pages.size(d["remaining"])), str(d["blocks"]), esc(states),
            str(d["active_transfers"])]


def datanodes_html(datanodes: list[dict[str, Any]]) -> str:
    rows = [datanode_row(d) for d in datanodes]
    return ("<section><h2>DataNodes</h2>" + pages.table(DN_HEADERS, rows, "datanodes")
            + "</section>")


def mount(face: HttpFace, fs: Namesystem, conf: ClusterConfig) -> None:
    p = NamenodePages(fs, conf)
    face.app.router.add_get("/", p.overview)
    face.app.router.add_get("/explorer", p.explorer)
    face.app.router.add_get("/api/status", p.api_status)
    pages.mount_common(face.app, fs.events)
