"""WebHDFS against a real cluster, through the clients people use: fsspec's `webhdfs`
(and pandas through it), HdfsCLI's InsecureClient, and plain HTTP with the redirects
followed by hand. Bad input answers Apache's RemoteException and changes nothing; a
client that drops a CREATE mid-body leaves no file (or the old one); Hadoop's own
client (User-Agent Java/...) gets its JSON without a Content-Type (the Spark rule)."""
from __future__ import annotations

import getpass
import io
import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request

import pytest

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 0, "block_size": 64 * 1024}
MULTI_BLOCK_BYTES = 1_000_003          # 16 blocks of 64 KiB, a short last one
TIMEOUT_S = 30
# The NameNode's process user is its superuser (the tests' own Client acts as it too).
SUPERUSER = getpass.getuser()


@pytest.fixture(scope="module")
def nn_http(cluster, fs):
    fs.chmod("/", "777")     # the clients below act as alice, who may create at the top
    return cluster.conf.node("nn1").http_address


def call(url: str, method: str = "GET", data: bytes | None = None,
         headers: dict[str, str] | None = None, follow: bool = True):
    """(status, headers, body) of one request; redirects followed only when asked."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = (urllib.request.build_opener() if follow
              else urllib.request.build_opener(NoRedirect))
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with opener.open(request, timeout=TIMEOUT_S) as reply:
            return reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def webhdfs(nn_http: str, path: str, op: str, user: str = SUPERUSER, **params) -> str:
    query = urllib.parse.urlencode({"op": op, "user.name": user, **params})
    return f"http://{nn_http}/webhdfs/v1{urllib.parse.quote(path)}?{query}"


def remote(body: bytes) -> str:
    return json.loads(body)["RemoteException"]["exception"]


# ---------------------------------------------------------------- plain HTTP


def test_create_and_open_with_redirects_followed_by_hand(nn_http, fs):
    data = os.urandom(MULTI_BLOCK_BYTES)
    status, headers, _ = call(webhdfs(nn_http, "/http/a.bin", "CREATE", overwrite="false"),
                              "PUT", follow=False)
    assert status == 307
    location = headers["Location"]
    assert "op=CREATE" in location and "/webhdfs/v1/http/a.bin" in location
    assert not fs.exists("/http/a.bin")   # nothing exists until the data arrives
    status, headers, _ = call(location, "PUT", data=data)
    assert status == 201
    assert fs.cat("/http/a.bin") == data
    assert fs.stat("/http/a.bin")["replication"] == 3

    status, headers, _ = call(webhdfs(nn_http, "/http/a.bin", "OPEN", offset=70_000, length=100_000),
                              follow=False)
    assert status == 307
    status, headers, body = call(headers["Location"])
    assert status == 200 and int(headers["Content-Length"]) == 100_000
    assert body == data[70_000:170_000]
    # Hadoop appends its own offset to the redirect URL: the last one counts.
    _, headers, _ = call(webhdfs(nn_http, "/http/a.bin", "OPEN", offset=5), follow=False)
    status, _, body = call(headers["Location"] + "&offset=999000")
    assert status == 200 and body == data[999_000:]

    # noredirect: 200 with the Location in JSON
    status, _, body = call(webhdfs(nn_http, "/http/a.bin", "OPEN", noredirect="true"))
    assert status == 200 and json.loads(body)["Location"].startswith("http://")


def test_open_reads_around_a_corrupt_local_replica(cluster, nn_http, fs):
    """The DataNode serves OPEN through the verified read path: a damaged replica on
    its own disk costs a checksum error and a read from another replica, not bad bytes."""
    data = os.urandom(300_000)
    fs.put(io.BytesIO(data), "/rot/a.bin")
    _, headers, _ = call(webhdfs(nn_http, "/rot/a.bin", "OPEN"), follow=False)
    serving = urllib.parse.urlsplit(headers["Location"]).netloc
    [node] = [n.name for n in cluster.conf.datanodes if n.http_address == serving]
    block_id = fs.stat("/rot/a.bin")["blocks"][0]["id"]
    [block_file] = cluster.home.node_dir(node).rglob(f"blk_{block_id}")
    with open(block_file, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    status, _, body = call(headers["Location"])
    assert status == 200 and body == data


def test_namenode_ops_json_shapes(nn_http, fs, wait_until):
    fs.put(io.BytesIO(b"x" * 200_000), "/shapes/f.txt")
    _, _, body = call(webhdfs(nn_http, "/shapes/f.txt", "GETFILESTATUS"))
    status = json.loads(body)["FileStatus"]
    for key in ("length", "accessTime", "modificationTime", "blockSize", "replication",
                "pathSuffix", "type", "owner", "group", "permission", "childrenNum"):
        assert key in status
    assert status["type"] == "FILE" and status["length"] == 200_000 and status["pathSuffix"] == ""

    _, _, body = call(webhdfs(nn_http, "/shapes", "LISTSTATUS"))
    listed = json.loads(body)["FileStatuses"]["FileStatus"]
    assert [s["pathSuffix"] for s in listed] == ["f.txt"]

    for i in range(5):
        fs.mkdir(f"/shapes/d{i}")
    _, _, body = call(webhdfs(nn_http, "/shapes", "LISTSTATUS_BATCH", startAfter="d2"))
    listing = json.loads(body)["DirectoryListing"]
    assert [s["pathSuffix"] for s in listing["partialListing"]["FileStatuses"]["FileStatus"]] == \
        ["d3", "d4", "f.txt"]
    assert listing["remainingEntries"] == 0

    _, _, body = call(webhdfs(nn_http, "/shapes", "GETCONTENTSUMMARY"))
    summary = json.loads(body)["ContentSummary"]
    assert summary["length"] == 200_000 and summary["fileCount"] == 1
    assert summary["directoryCount"] == 6 and summary["spaceConsumed"] == 600_000

    def locations():
        _, _, body = call(webhdfs(nn_http, "/shapes/f.txt", "GETFILEBLOCKLOCATIONS"))
        blocks = json.loads(body)["BlockLocations"]["BlockLocation"]
        # Replicas beyond the first are reported to the NameNode asynchronously.
        return blocks if all(len(b["hosts"]) == 3 for b in blocks) else None
    blocks = wait_until(locations, TIMEOUT_S, "every replica reported")
    assert [b["offset"] for b in blocks] == [0, 65536, 131072, 196608]
    datanode_addresses = {n.address for n in fs.conf.datanodes}
    assert all(set(b["names"]) <= datanode_addresses for b in blocks)
    _, _, body = call(webhdfs(nn_http, "/shapes/f.txt", "GET_BLOCK_LOCATIONS", offset=70_000, length=1))
    located = json.loads(body)["LocatedBlocks"]
    assert located["fileLength"] == 200_000
    assert [b["startOffset"] for b in located["locatedBlocks"]] == [65536]

    _, _, body = call(webhdfs(nn_http, "/", "GETHOMEDIRECTORY", user="alice"))
    assert json.loads(body) == {"Path": "/user/alice"}
    _, _, body = call(webhdfs(nn_http, "/", "GETSERVERDEFAULTS"))
    assert json.loads(body)["FsServerDefaults"]["blockSize"] == 64 * 1024

    _, headers, _ = call(webhdfs(nn_http, "/shapes/f.txt", "GETFILECHECKSUM"), follow=False)
    _, _, body = call(headers["Location"])
    checksum = json.loads(body)["FileChecksum"]
    assert checksum["algorithm"] == "MD5-of-128MD5-of-512CRC32" and checksum["length"] == 28

    assert json.loads(call(webhdfs(nn_http, "/shapes/f.txt", "SETREPLICATION", replication=2),
                           "PUT")[2]) == {"boolean": True}
    assert fs.info("/shapes/f.txt")["replication"] == 2
    assert call(webhdfs(nn_http, "/shapes/f.txt", "SETTIMES", modificationtime=1_000_000),
                "PUT")[0] == 200
    assert fs.info("/shapes/f.txt")["modified"] == 1_000_000
    assert json.loads(call(webhdfs(nn_http, "/shapes/new/deep", "MKDIRS"), "PUT")[2])["boolean"]
    assert json.loads(call(webhdfs(nn_http, "/shapes/f.txt", "RENAME", destination="/shapes/g.txt"),
                           "PUT")[2]) == {"boolean": True}
    assert json.loads(call(webhdfs(nn_http, "/shapes/missing", "RENAME", destination="/shapes/h"),
                           "PUT")[2]) == {"boolean": False}
    status, _, body = call(webhdfs(nn_http, "/shapes", "DELETE"), "DELETE")
    assert status == 403 and remote(body) == "PathIsNotEmptyDirectoryException"
    assert json.loads(call(webhdfs(nn_http, "/shapes", "DELETE", recursive="true"),
                           "DELETE")[2]) == {"boolean": True}
    assert not fs.exists("/shapes")


def test_permissions_count_through_user_name(nn_http, fs):
    # nobody: a user this host knows, so chown may name it
    fs.put(io.BytesIO(b"mine"), "/perm/f")        # the superuser's, in its 755 directory
    status, _, body = call(webhdfs(nn_http, "/perm/f", "DELETE", user="nobody"), "DELETE")
    assert status == 403 and remote(body) == "AccessControlException"
    location = json.loads(call(webhdfs(nn_http, "/perm/new", "CREATE", user="nobody",
                                       noredirect="true"), "PUT")[2])["Location"]
    status, _, body = call(location, "PUT", data=b"x")
    assert status == 403 and remote(body) == "AccessControlException"
    assert not fs.exists("/perm/new")
    assert call(webhdfs(nn_http, "/perm", "SETOWNER", owner="nobody"), "PUT")[0] == 200
    assert call(webhdfs(nn_http, "/perm", "SETPERMISSION", user="nobody", permission="700"),
                "PUT")[0] == 200
    status, _, body = call(webhdfs(nn_http, "/perm", "GETFILESTATUS", user="nobody"))
    assert json.loads(body)["FileStatus"]["owner"] == "nobody"
    assert json.loads(body)["FileStatus"]["permission"] == "700"
    _, headers, _ = call(webhdfs(nn_http, "/perm/by-alice", "CREATE", user="nobody"), "PUT",
                         follow=False)
    assert call(headers["Location"], "PUT", data=b"hers")[0] == 201
    assert fs.info("/perm/by-alice")["owner"] == "nobody"
    fs.delete("/perm", recursive=True)


@pytest.mark.parametrize("path, op, method, params, code, exception", [
    ("/", "NOSUCHOP", "GET", {}, 400, "IllegalArgumentException"),
    ("/a/../b", "GETFILESTATUS", "GET", {}, 400, "IllegalArgumentException"),
    ("/a//b", "GETFILESTATUS", "GET", {}, 400, "IllegalArgumentException"),
    ("/a\x00b", "GETFILESTATUS", "GET", {}, 400, "IllegalArgumentException"),
    ("/bad/f", "OPEN", "GET", {"offset": "-1"}, 400, "IllegalArgumentException"),
    ("/bad/f", "OPEN", "GET", {"length": "-5"}, 400, "IllegalArgumentException"),
    ("/bad/f", "OPEN", "GET", {"offset": "999999"}, 400, "IllegalArgumentException"),
    ("/bad/f", "SETREPLICATION", "PUT", {"replication": "0"}, 400, "IllegalArgumentException"),
    ("/bad/f", "SETREPLICATION", "PUT", {"replication": "10000"}, 400, "IllegalArgumentException"),
    ("/bad/n", "CREATE", "PUT", {"blocksize": "big"}, 400, "IllegalArgumentException"),
    ("/bad/n", "CREATE", "PUT", {"replication": "10000"}, 400, "IllegalArgumentException"),
    ("/bad/n", "CREATE", "PUT", {"overwrite": "maybe"}, 400, "IllegalArgumentException"),
    ("/bad/f", "CREATE", "PUT", {}, 403, "FileAlreadyExistsException"),
    ("/bad", "OPEN", "GET", {}, 404, "FileNotFoundException"),
    ("/bad/missing", "OPEN", "GET", {}, 404, "FileNotFoundException"),
    ("/bad/f", "LISTSTATUS", "PUT", {}, 400, "IllegalArgumentException"),
    ("/bad/f/under", "MKDIRS", "PUT", {}, 403, "ParentNotDirectoryException"),
])
def test_bad_input_is_refused_and_changes_nothing(nn_http, fs, path, op, method, params,
                                                 code, exception):
    if not fs.exists("/bad/f"):
        fs.put(io.BytesIO(b"12345"), "/bad/f")
    before = fs.ls("/bad", recursive=True)
    url = (f"http://{nn_http}/webhdfs/v1{urllib.parse.quote(path, safe='/')}?"
           + urllib.parse.urlencode({"op": op, "user.name": SUPERUSER, **params}))
    status, headers, body = call(url, method, follow=False)
    assert (status, remote(body)) == (code, exception)
    assert json.loads(body)["RemoteException"]["message"]
    assert fs.ls("/bad", recursive=True) == before
    assert call(webhdfs(nn_http, "/bad/f", "GETFILESTATUS"))[0] == 200   # still serving


def test_oversized_headers_are_refused_not_buffered(nn_http, fs):
    status, _, _ = call(webhdfs(nn_http, "/", "GETFILESTATUS"), headers={"X-Big": "x" * 20_000})
    assert status == 400
    assert call(webhdfs(nn_http, "/", "GETFILESTATUS"))[0] == 200


def test_java_clients_get_json_without_content_type(nn_http, fs):
    java = {"User-Agent": "Java/17.0.15"}
    status, headers, body = call(webhdfs(nn_http, "/", "GETFILESTATUS"), headers=java)
    assert status == 200 and "Content-Type" not in headers and json.loads(body)["FileStatus"]
    status, headers, body = call(webhdfs(nn_http, "/nope", "GETFILESTATUS"), headers=java)
    assert status == 404 and "Content-Type" not in headers and remote(body) == "FileNotFoundException"
    status, headers, _ = call(webhdfs(nn_http, "/", "GETFILESTATUS"))
    assert headers["Content-Type"].startswith("application/json")


def _copying(fs) -> bool:
    return any("_COPYING_" in e["path"] for e in fs.ls("/dropped"))


@pytest.mark.parametrize("overwrite", [False, True])
def test_dropped_create_leaves_no_file_or_the_old_one(nn_http, fs, wait_until, overwrite):
    target = f"/dropped/over_{overwrite}"
    old = b"the old bytes"
    fs.mkdir("/dropped", parents=True)
    if overwrite:
        fs.put(io.BytesIO(old), target)
    _, headers, _ = call(webhdfs(nn_http, target, "CREATE", overwrite=str(overwrite).lower()),
                         "PUT", follow=False)
    url = urllib.parse.urlsplit(headers["Location"])
    # A PUT that promises more than it sends, then hangs up once the DataNode is writing.
    with socket.create_connection((url.hostname, url.port), timeout=TIMEOUT_S) as sock:
        sock.sendall((f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                      f"Content-Length: 10000000\r\n\r\n").encode())
        sock.sendall(os.urandom(300_000))
        wait_until(lambda: _copying(fs), TIMEOUT_S, "the upload's temporary file")
    wait_until(lambda: not _copying(fs), TIMEOUT_S, "temporary file removed")
    if overwrite:
        assert fs.cat(target) == old
    else:
        assert not fs.exists(target)
    _, headers, _ = call(webhdfs(nn_http, target, "CREATE", overwrite="true"), "PUT", follow=False)
    assert call(headers["Location"], "PUT", data=b"new")[0] == 201
    assert fs.cat(target) == b"new"


# ---------------------------------------------------------------- fsspec webhdfs


@pytest.fixture(scope="module")
def webhdfs_fs(nn_http):
    import fsspec

    host, port = nn_http.rsplit(":", 1)
    return fsspec.filesystem("webhdfs", host=host, port=int(port), user="alice",
                             skip_instance_cache=True)


def test_fsspec_webhdfs(webhdfs_fs, fs, tmp_path):
    w = webhdfs_fs
    data = os.urandom(MULTI_BLOCK_BYTES)
    local = tmp_path / "big.bin"
    local.write_bytes(data)
    w.makedirs("/fsspec/dir", exist_ok=True)
    w.put(str(local), "/fsspec/dir/big.bin")
    assert fs.cat("/fsspec/dir/big.bin") == data
    assert w.info("/fsspec/dir/big.bin")["size"] == MULTI_BLOCK_BYTES
    assert w.ls("/fsspec/dir", detail=False) == ["/fsspec/dir/big.bin"]
    assert w.cat_file("/fsspec/dir/big.bin", start=65_000, end=300_000) == data[65_000:300_000]
    w.get("/fsspec/dir/big.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data

    # Written in several chunks: fsspec sends CREATE, then one APPEND per chunk.
    with w.open("/fsspec/dir/chunks.bin", "wb", block_size=256 * 1024) as f:
        f.write(data)
    assert fs.cat("/fsspec/dir/chunks.bin") == data

    assert w.ukey("/fsspec/dir/big.bin") == w.ukey("/fsspec/dir/chunks.bin")   # GETFILECHECKSUM
    assert w.content_summary("/fsspec")["length"] == 2 * MULTI_BLOCK_BYTES
    assert w.home_directory() == "/user/alice"
    w.cp_file("/fsspec/dir/big.bin", "/fsspec/copy.bin")
    assert fs.cat("/fsspec/copy.bin") == data

    w.pipe("/fsspec/small.txt", b"hello")
    assert w.cat("/fsspec/small.txt") == b"hello"
    w.mv("/fsspec/small.txt", "/fsspec/moved.txt")
    assert not w.exists("/fsspec/small.txt") and w.cat("/fsspec/moved.txt") == b"hello"
    w.rm("/fsspec", recursive=True)
    assert not fs.exists("/fsspec")
    with pytest.raises(FileNotFoundError):
        w.info("/fsspec")


def test_pandas_through_webhdfs(nn_http, webhdfs_fs):
    import pandas as pd

    frame = pd.DataFrame({"word": ["a", "b", "c"] * 1000, "count": range(3000)})
    url = f"webhdfs://{nn_http}/pandas/words.csv"
    options = {"user": "alice"}
    frame.to_csv(url, index=False, storage_options=options)
    back = pd.read_csv(url, storage_options=options)
    assert back.equals(frame)


# ---------------------------------------------------------------- HdfsCLI


def test_hdfscli_insecure_client(nn_http, fs, tmp_path):
    from hdfs import InsecureClient
    from hdfs.util import HdfsError

    client = InsecureClient(f"http://{nn_http}", user="alice")
    data = os.urandom(MULTI_BLOCK_BYTES)
    (tmp_path / "up.bin").write_bytes(data)
    client.upload("/cli/up.bin", str(tmp_path / "up.bin"))
    assert fs.cat("/cli/up.bin") == data
    assert client.status("/cli/up.bin")["length"] == MULTI_BLOCK_BYTES
    assert client.list("/cli") == ["up.bin"]
    client.download("/cli/up.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == data
    with client.read("/cli/up.bin", offset=10, length=20) as reader:
        assert reader.read() == data[10:30]
    client.write("/cli/w.txt", data=b"written", overwrite=True)
    assert fs.cat("/cli/w.txt") == b"written"
    client.rename("/cli/w.txt", "/cli/r.txt")
    assert fs.cat("/cli/r.txt") == b"written"
    assert client.content("/cli")["fileCount"] == 2
    with pytest.raises(HdfsError, match="already exists"):
        client.write("/cli/r.txt", data=b"again")
    assert client.delete("/cli", recursive=True)
    assert client.status("/cli", strict=False) is None
