"""`GET /imagetransfer?getimage=1&user.name=U` on a NameNode's HTTP face: its newest image.

HDFS's ImageServlet in miniature, for `minidfs admin ha bootstrap-standby`
(minidfs/client/bootstrap.py): a new or wiped NameNode copies the active's newest
checkpoint image and then tails the journal from the txid after it. The body is the
image file as checkpoint.py wrote it (self-checking: magic + xxh3 trailer), with
headers X-Image-Txid and X-Image-Name; 404 when this NameNode has no image yet. The
image is the whole namespace, so only a superuser may fetch it (403 otherwise).
Read in a worker thread: an image can be large and the loop keeps serving.
"""
from __future__ import annotations

import asyncio

from aiohttp import web

from minidfs import fsmode
from minidfs.namenode.namesystem import Namesystem
from minidfs.web.face import HttpFace

PATH = "/imagetransfer"
TXID_HEADER = "X-Image-Txid"
NAME_HEADER = "X-Image-Name"


def mount(face: HttpFace, fs: Namesystem) -> None:
    async def get_image(request: web.Request) -> web.Response:
        if request.query.get("getimage") != "1":
            return web.Response(status=400, text="only getimage=1 is supported\n")
        try:
            user = fsmode.check_name(request.query.get("user.name", ""), "user")
        except Exception as e:  # noqa: BLE001 - a bad name is the caller's error
            return web.Response(status=400, text=f"user.name: {e}\n")
        if not fs.users.caller(user).is_super:
            return web.Response(status=403, text=f"{user}: only a superuser may fetch "
                                                 "the namespace image\n")
        images = fs.images.images()
        if not images:
            return web.Response(status=404, text="no checkpoint image yet\n")
        newest = images[-1]
        try:
            data = await asyncio.to_thread(newest.path.read_bytes)
        except FileNotFoundError:   # pruned by a checkpoint just now: ask again
            return web.Response(status=503, text="image replaced while reading; retry\n")
        return web.Response(body=data, content_type="application/octet-stream",
                            headers={TXID_HEADER: str(newest.txid),
                                     NAME_HEADER: newest.path.name})

    face.app.router.add_get(PATH, get_image)
