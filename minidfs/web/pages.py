"""What the status pages of the NameNode and the JobTracker share: the page frame,
static files shipped in the package (minidfs/web/static, no CDN), the HTML 404,
small formatters, and the server-sent event stream of a daemon's event feed.

A slow or vanished page never blocks the daemon's loop: each stream is one
subscriber of the feed with a bounded queue (event_feed.py), dropped when full;
writes to a client that stops reading time out after SSE_WRITE_TIMEOUT_S.
"""
from __future__ import annotations

import asyncio
import html
import importlib.resources
import json
import time
from typing import Any

from aiohttp import web

from minidfs.event_feed import EventFeed
from minidfs.events import Event
from minidfs.sizes import format_size

STATIC_FILES = {"minidfs.css": "text/css", "namenode.js": "text/javascript",
                "jobtracker.js": "text/javascript", "events.js": "text/javascript"}
SSE_KEEPALIVE_S = 15.0
SSE_WRITE_TIMEOUT_S = 10.0
PAGE_EVENTS = 50
MAX_PATH_CHARS = 8000

esc = html.escape


def size(n: int) -> str:
    return format_size(n)


def wall(ms: int | None) -> str:
    if not ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000))


def page(title: str, body: str, scripts: tuple[str, ...] = (), status: int = 200,
         data: dict[str, Any] | None = None) -> web.Response:
    """A whole page; `data` becomes the data-* attributes of <body> for the scripts."""
    attrs = "".join(f' data-{esc(k)}="{esc(str(v))}"' for k, v in (data or {}).items())
    tags = "".join(f'<script src="/static/{s}" defer></script>' for s in scripts)
    text = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)}</title><link rel="stylesheet" href="/static/minidfs.css">'
            f'{tags}</head><body{attrs}>{body}</body></html>')
    return web.Response(text=text, status=status, content_type="text/html")


def error_page(status: int, title: str, message: str) -> web.Response:
    return page(f"{status} {title}", f'<header><h1>{status} {esc(title)}</h1></header>'
                f'<main><p class="error">{esc(message)}</p><p><a href="/">Back to the '
                f'overview</a></p></main>', status=status)


def table(headers: list[str], rows: list[list[str]], table_id: str = "") -> str:
    """rows hold HTML already escaped by the caller."""
    ident = f' id="{table_id}"' if table_id else ""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def events_table(events: list[Event]) -> str:
    rows = [[esc(wall(e.time_ms)), f'<span class="kind k-{esc(e.kind)}">{esc(e.kind)}</span>',
             esc(" ".join(f"{k}={v}" for k, v in sorted(e.subjects.items())))]
            for e in reversed(events)]
    last = events[-1].seq if events else 0
    return (f'<section><h2>Events</h2><p class="note">Newest first; live with JavaScript. '
            f'Also: <code>minidfs admin events --follow</code>.</p>'
            f'<div data-last-seq="{last}" id="events-box">'
            + table(["Time", "Event", "Subjects"], rows, "events") + "</div></section>")


def mount_common(app: web.Application, feed: EventFeed) -> None:
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/api/events", lambda r: _events_json(r, feed))
    app.router.add_get("/events/stream", lambda r: _event_stream(r, feed))
    app.middlewares.append(_not_found_page)


@web.middleware
async def _not_found_page(request: web.Request, handler) -> web.StreamResponse:
    """Unknown URLs get an HTML 404 page; other handlers' own errors (WebHDFS's JSON
    RemoteException) pass untouched."""
    try:
        return await handler(request)
    except web.HTTPNotFound as e:
        if request.path.startswith("/webhdfs/") or e.text not in (None, "404: Not Found"):
            raise
        return error_page(404, "Not Found", f"{request.path}: no such page here")


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    kind = STATIC_FILES.get(name)
    if kind is None:
        return error_page(404, "Not Found", f"/static/{name}: no such file")
    data = importlib.resources.files("minidfs.web").joinpath("static", name).read_bytes()
    return web.Response(body=data, content_type=kind, headers={"Cache-Control": "max-age=60"})


def _after(request: web.Request) -> int:
    raw = request.query.get("after", "0")
    if not raw.isdigit() or len(raw) > 19:
        raise web.HTTPBadRequest(text="after: a sequence number (0, 1, 2 ...)")
    return int(raw)


async def _events_json(request: web.Request, feed: EventFeed) -> web.Response:
    after = _after(request)
    events = feed.ring.after(after) if after else feed.ring.newest(PAGE_EVENTS)
    return web.json_response({"events": [e.as_json() for e in events],
                              "first_seq": feed.ring.first_seq, "last_seq": feed.ring.last_seq})


async def _event_stream(request: web.Request, feed: EventFeed) -> web.StreamResponse:
    """Server-sent events: the events after ?after=N, then each new one."""
    after = _after(request)
    try:
        sub = feed.subscribe()
    except RuntimeError as e:
        return web.Response(status=503, text=f"{e}\n")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    try:
        await response.prepare(request)
        last = after
        for event in feed.ring.after(after) if after else []:
            last = event.seq
            await _send(response, event)
        while True:
            event = await sub.next(SSE_KEEPALIVE_S)
            if event is None:
                if sub.dropped:
                    break   # fell behind: the page reconnects from its last seq
                await asyncio.wait_for(response.write(b": keep-alive\n\n"), SSE_WRITE_TIMEOUT_S)
                continue
            if event.seq > last:
                last = event.seq
                await _send(response, event)
    except (ConnectionResetError, asyncio.TimeoutError):
        pass   # the page went away or stopped reading
    finally:
        feed.unsubscribe(sub)
    return response


async def _send(response: web.StreamResponse, event: Event) -> None:
    data = json.dumps(event.as_json(), separators=(",", ":"))
    await asyncio.wait_for(response.write(f"id: {event.seq}\ndata: {data}\n\n".encode()),
                           SSE_WRITE_TIMEOUT_S)
