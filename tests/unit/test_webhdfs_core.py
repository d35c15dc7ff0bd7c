"""The pure parts of WebHDFS: parameter parsing, the RemoteException mapping, the JSON
shapes, HDFS's MD5-of-MD5-of-CRC32 checksum, the SET_TIMES edit; and a standby
NameNode answering StandbyException (an in-process aiohttp server, no cluster)."""
from __future__ import annotations

import hashlib
import struct
import zlib

import pytest

from minidfs import errors
from minidfs.namenode import edits
from minidfs.namenode.namespace import Namespace
from minidfs.namenode.views import FileView
from minidfs.web import webhdfs_json
from minidfs.web.webhdfs_datanode import chunk_crcs, file_checksum
from minidfs.web.webhdfs_errors import remote_exception
from minidfs.web.webhdfs_params import Params, clean_path


def test_params_are_case_insensitive_and_the_last_value_wins():
    p = Params.of([("OP", "liststatus"), ("Offset", "5"), ("offset", "7")])
    assert p.op() == "LISTSTATUS" and p.offset() == 7


@pytest.mark.parametrize("query, call", [
    ({"offset": "-1"}, lambda p: p.offset()),
    ({"length": "x"}, lambda p: p.length()),
    ({"replication": "0"}, lambda p: p.replication()),
    ({"blocksize": "64MB"}, lambda p: p.block_size()),
    ({"overwrite": "yes"}, lambda p: p.boolean("overwrite", False)),
    ({"permission": "999"}, lambda p: p.permission()),
    ({"user.name": "a/b"}, lambda p: p.user("nn")),
    ({}, lambda p: p.op()),
])
def test_bad_values_are_invalid_arguments(query, call):
    with pytest.raises(errors.InvalidArgument):
        call(Params.of(query))


def test_defaults():
    p = Params.of({"op": "OPEN", "length": "null"})
    assert (p.offset(), p.length(), p.replication(), p.block_size()) == (0, None, 0, 0)
    assert p.permission() is None and p.user("hdfs") == "hdfs"


@pytest.mark.parametrize("raw, expected", [("", "/"), ("/", "/"), ("/a/b/", "/a/b")])
def test_clean_path(raw, expected):
    assert clean_path(raw) == expected


@pytest.mark.parametrize("raw", ["/a/../b", "/a//b", "/a/./b", "a", "/a\x00"])
def test_non_canonical_paths_are_refused(raw):
    with pytest.raises(errors.InvalidPath):
        clean_path(raw)


@pytest.mark.parametrize("exc, status, name", [
    (errors.InvalidPath("p"), 400, "IllegalArgumentException"),
    (errors.FileNotFound("p"), 404, "FileNotFoundException"),
    (errors.FileExists("p"), 403, "FileAlreadyExistsException"),
    (errors.StandbyError("p"), 403, "StandbyException"),
    (errors.EditNotDurable("p"), 403, "IOException"),
    (errors.OutcomeUnknownError("p"), 403, "IOException"),
    (errors.SafeModeStarting("p"), 403, "RetriableException"),
    (errors.SafeModeError("p"), 403, "SafeModeException"),
    (errors.DirectoryNotEmpty("p"), 403, "PathIsNotEmptyDirectoryException"),
    (errors.PipelineError("p"), 403, "IOException"),
    (KeyError("p"), 500, "RuntimeException"),
])
def test_remote_exception_mapping(exc, status, name):
    remote = remote_exception(exc)
    assert (remote.status, remote.exception) == (status, name)
    body = remote.body()["RemoteException"]
    assert body["javaClassName"].endswith(name) and body["message"]


def test_file_status_has_every_field_hadoop_needs():
    view = FileView("/a/f", False, 10, 3, 1024, 1234, False)
    status = webhdfs_json.file_status(view, "f", webhdfs_json.Ownership("u", "g", "644"), 0)
    for key in ("length", "accessTime", "modificationTime", "blockSize", "replication",
                "pathSuffix", "type", "owner", "group", "permission", "childrenNum"):
        assert key in status
    assert status["type"] == "FILE" and status["modificationTime"] == 1234


def test_checksum_is_hadoops_md5_of_md5_of_crc32():
    data = bytes(range(256)) * 5   # 1280 bytes: chunks of 512, 512, 256
    crcs = b"".join(struct.pack(">I", zlib.crc32(data[i:i + 512])) for i in (0, 512, 1024))
    block = hashlib.md5(crcs).digest()
    assert chunk_crcs(memoryview(data)) == crcs
    shaped = file_checksum([block], 0)["FileChecksum"]
    assert shaped["algorithm"] == "MD5-of-0MD5-of-512CRC32" and shaped["length"] == 28
    assert bytes.fromhex(shaped["bytes"]) == struct.pack(">iq", 512, 0) + hashlib.md5(block).digest()


def test_set_times_is_an_edit_replayed_like_any_other():
    ns = Namespace()
    for record in ns.mkdirs("/d", True, 5):
        ns.apply(record)
    records = ns.set_times("/d", 99)
    assert records == [edits.set_times("/d", 99)]
    ns.apply(records[0])
    assert ns.get("/d").mtime_ms == 99 and ns.set_times("/d", 99) == []
    with pytest.raises(errors.InvalidArgument):
        ns.set_times("/d", -5)
    with pytest.raises(errors.FileNotFound):
        ns.set_times("/missing", 1)


async def test_standby_namenode_answers_standby_exception(tmp_path):
    import socket

    from aiohttp import ClientSession

    from minidfs.config import ClusterConfig, NodeConfig, Settings
    from minidfs.namenode.ha_state import HaState
    from minidfs.namenode.namesystem import Namesystem
    from minidfs.web import webhdfs_namenode
    from minidfs.web.face import HttpFace

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    node = NodeConfig("nn1", "namenode", "127.0.0.1:1", tmp_path, http_address=f"127.0.0.1:{port}")
    conf = ClusterConfig(path=tmp_path / "cluster.toml", settings=Settings(ha=True), nodes={"nn1": node})
    fs = Namesystem(conf.settings, tmp_path, ha=HaState("nn1", enabled=True))
    face = HttpFace(node, "namenode")
    webhdfs_namenode.mount(face, fs, conf)
    await face.start()
    try:
        async with ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/webhdfs/v1/?op=GETFILESTATUS") as r:
                body = await r.json()
                assert r.status == 403
                assert body["RemoteException"]["exception"] == "StandbyException"
    finally:
        await face.stop()
