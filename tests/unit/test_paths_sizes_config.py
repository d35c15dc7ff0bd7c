import pathlib

import pytest

from minidfs import config, paths
from minidfs.errors import ConfigError, InvalidArgument, InvalidPath
from minidfs.sizes import format_size, parse_size


@pytest.mark.parametrize("good", ["/", "/a", "/a/b.txt", "/" + "x" * 255, "/ü/ß"])
def test_valid_paths(good):
    assert paths.validate(good) == good


@pytest.mark.parametrize(
    "bad", ["", "a", "a/b", "//", "/a//b", "/a/", "/a/./b", "/a/../b", "/..", "/a\x00b",
            "/" + "x" * 256, "/" + "/".join(["abcdefgh"] * 500), None, 5],
)
def test_invalid_paths(bad):
    with pytest.raises(InvalidPath):
        paths.validate(bad)


def test_path_helpers():
    assert paths.parent("/a/b") == "/a"
    assert paths.parent("/a") == "/"
    assert paths.basename("/a/b") == "b"
    assert paths.join("/", "a") == "/a"
    assert paths.components("/a/b") == ["a", "b"]
    assert paths.normalize_user_path("x/y/", "/home") == "/home/x/y"
    assert paths.normalize_user_path("/", "/home") == "/"
    for bad in ("x//y", "/a//", "a/../b", "./a"):
        with pytest.raises(InvalidPath):
            paths.normalize_user_path(bad, "/home")
    assert paths.is_under("/a/b", "/a") and not paths.is_under("/ab", "/a")


@pytest.mark.parametrize("text,value", [
    ("64KiB", 65536), ("1MiB", 1 << 20), ("128M", 128 << 20), ("4096", 4096),
    ("1MB", 1_000_000), ("2g", 2 << 30), (7, 7), ("0.5KiB", 512),
])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("bad", ["", "abc", "12XB", "-1", "0.3B"])
def test_parse_size_rejects(bad):
    with pytest.raises(InvalidArgument):
        parse_size(bad)


def test_format_size():
    assert format_size(0) == "0B"
    assert format_size(65536) == "64KiB"
    assert format_size(1536 * 1024) == "1.5MiB"


def test_config_round_trip(tmp_path: pathlib.Path):
    text = """
[cluster]
replication = 2
block_size_bytes = 1048576
future_setting = "kept"
[nodes.nn1]
kind = "namenode"
address = "host-a:9000"
[nodes.dn1]
kind = "datanode"
address = "10.1.2.3:9001"
data_dir = "/abs/dn1"
rack = "/r1"
"""
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    conf = config.load(path)
    assert conf.settings.replication == 2
    assert conf.settings.extra == {"future_setting": "kept"}
    assert conf.node("nn1").data_dir == tmp_path / "nodes" / "nn1"
    assert conf.node("dn1").host == "10.1.2.3" and conf.node("dn1").port == 9001
    config.save(conf, tmp_path / "again.toml")
    again = config.load(tmp_path / "again.toml")
    assert again.nodes == {k: v for k, v in again.nodes.items()}
    assert again.node("dn1").rack == "/r1" and again.settings.extra == {"future_setting": "kept"}
    assert again.node("nn1").data_dir == tmp_path / "nodes" / "nn1"


@pytest.mark.parametrize("node", [
    '[nodes.x]\nkind = "nope"\naddress = "a:1"',
    '[nodes.x]\nkind = "datanode"\naddress = "noport"',
    '[nodes.x]\nkind = "datanode"\naddress = "a:99999"',
])
def test_config_rejects(tmp_path, node):
    path = tmp_path / "c.toml"
    path.write_text(node)
    with pytest.raises(ConfigError):
        config.load(path)
