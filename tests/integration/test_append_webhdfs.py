"""Append through WebHDFS (APPEND is a real append now, docs/http.md) and through
fsspec's `minidfs://` mode "ab", against a real cluster: byte-exact, the old bytes
never rewritten (the last block keeps its id), a file another client is writing
refused with Apache's AlreadyBeingCreatedException."""
from __future__ import annotations

import getpass
import json
import urllib.error
import urllib.parse
import urllib.request

import fsspec

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 0, "block_size": 64 * 1024}
TIMEOUT_S = 30
SUPERUSER = getpass.getuser()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def call(url: str, method: str, data: bytes | None = None):
    """(status, body), the NameNode's 307 followed by hand (as curl -L does for POST)."""
    opener = urllib.request.build_opener(_NoRedirect)
    for _ in range(2):
        request = urllib.request.Request(url, data=data, method=method)
        try:
            with opener.open(request, timeout=TIMEOUT_S) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as e:
            if e.code != 307:
                return e.code, e.read()
            url = e.headers["Location"]
    raise AssertionError("redirected twice")


def webhdfs(cluster, path: str, op: str, **params) -> str:
    query = urllib.parse.urlencode({"op": op, "user.name": SUPERUSER, **params})
    return f"http://{cluster.conf.node('nn1').http_address}/webhdfs/v1{path}?{query}"


def test_webhdfs_append_is_a_real_append(cluster, fs):
    data = bytes(range(256)) * 300            # 76,800 bytes: a full block and a short one
    with fs.open("/web/log", "wb") as f:
        f.write(data)
    before = [b["id"] for b in fs.stat("/web/log")["blocks"]]
    status, _ = call(webhdfs(cluster, "/web/log", "APPEND"), "POST", b"appended")
    assert status == 200
    assert fs.cat("/web/log") == data + b"appended"
    assert [b["id"] for b in fs.stat("/web/log")["blocks"]] == before   # reopened, not rewritten
    status, body = call(webhdfs(cluster, "/web/none", "APPEND"), "POST", b"x")
    assert status == 404


def test_webhdfs_append_to_a_file_being_written_is_refused(cluster, fs):
    with fs.open("/web/busy", "wb") as f:
        f.write(b"being written")
        f.flush()
        status, body = call(webhdfs(cluster, "/web/busy", "APPEND"), "POST", b"no")
        assert status == 403
        assert json.loads(body)["RemoteException"]["exception"] == "AlreadyBeingCreatedException"
    assert fs.cat("/web/busy") == b"being written"


def test_fsspec_minidfs_append_mode(cluster, fs):
    mfs = fsspec.filesystem("minidfs", conf=str(cluster.conf_path))
    with mfs.open("/web/fs.txt", "wb") as f:
        f.write(b"one\n")
    with mfs.open("/web/fs.txt", "ab") as f:
        f.write(b"two\n")
    assert mfs.cat("/web/fs.txt") == b"one\ntwo\n"
