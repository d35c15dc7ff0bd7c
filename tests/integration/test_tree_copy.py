"""`put` / `get` of whole directories against a real local cluster (HDFS's -put / -get
semantics): into an existing directory or onto a new name, nested and empty
directories, byte-exact files, and refusals that change nothing."""
from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from minidfs import errors
from minidfs.cli.main import cli


@pytest.fixture(scope="module")
def sh(cluster):
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, ["--conf", str(cluster.conf_path), *args], prog_name="minidfs")
    return run


def make_tree(root):
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty").mkdir()
    files = {"a.txt": b"alpha\n", "sub/b.bin": bytes(range(256)) * 700,
             "sub/deeper/c": b"", "z": os.urandom(200_000)}
    for rel, data in files.items():
        (root / rel).write_bytes(data)
    return files


def local_files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_put_and_get_a_tree_round_trip(sh, fs, tmp_path):
    files = make_tree(tmp_path / "photos")
    fs.mkdir("/trees")
    result = sh("put", str(tmp_path / "photos"), "/trees")           # into: /trees/photos
    assert result.exit_code == 0, result.output
    listed = {e["path"]: e["type"] for e in fs.ls("/trees/photos", recursive=True)}
    assert listed == {
        "/trees/photos/a.txt": "file", "/trees/photos/empty": "directory",
        "/trees/photos/sub": "directory", "/trees/photos/sub/b.bin": "file",
        "/trees/photos/sub/deeper": "directory", "/trees/photos/sub/deeper/c": "file",
        "/trees/photos/z": "file"}
    for rel, data in files.items():
        assert fs.cat(f"/trees/photos/{rel}") == data
    out = tmp_path / "out"
    out.mkdir()
    result = sh("get", "/trees/photos", str(out))                     # into: out/photos
    assert result.exit_code == 0, result.output
    assert local_files(out / "photos") == files
    assert (out / "photos" / "empty").is_dir()


def test_a_new_name_takes_the_copy(fs, tmp_path):
    files = make_tree(tmp_path / "src")
    assert fs.put(tmp_path / "src", "/renamed") == "/renamed"
    assert fs.get("/renamed", tmp_path / "back") == str(tmp_path / "back")
    assert local_files(tmp_path / "back") == files


def test_refusals_change_nothing(sh, fs, tmp_path):
    make_tree(tmp_path / "t")
    fs.mkdir("/r")
    assert sh("put", str(tmp_path / "t"), "/r").exit_code == 0
    (tmp_path / "t" / "new.txt").write_bytes(b"new")
    (tmp_path / "t" / "a.txt").write_bytes(b"changed")
    # A file of the copy exists: nothing is copied, not even the new file.
    result = sh("put", str(tmp_path / "t"), "/r")
    assert result.exit_code == 1
    assert result.stderr.strip() == "minidfs: put: /r/t/a.txt: file exists"
    assert not fs.exists("/r/t/new.txt") and fs.cat("/r/t/a.txt") == b"alpha\n"
    # -f replaces and adds.
    assert sh("put", "-f", str(tmp_path / "t"), "/r").exit_code == 0
    assert fs.cat("/r/t/a.txt") == b"changed" and fs.cat("/r/t/new.txt") == b"new"
    # Onto a file, or under a missing parent: one line, exit 1.
    fs.put(tmp_path / "t" / "a.txt", "/r/plain")
    assert sh("put", str(tmp_path / "t"), "/r/plain").exit_code == 1
    result = sh("put", str(tmp_path / "t"), "/missing/parent/t")
    assert result.exit_code == 1 and result.stderr.startswith("minidfs: put: ")
    assert not fs.exists("/missing")
    # get refuses to overwrite a local file of the copy without -f.
    out = tmp_path / "out"
    out.mkdir()
    (out / "t").mkdir()
    (out / "t" / "z").write_bytes(b"mine")
    result = sh("get", "/r/t", str(out))
    assert result.exit_code == 1 and "local file exists" in result.stderr
    assert (out / "t" / "z").read_bytes() == b"mine" and not (out / "t" / "a.txt").exists()
    assert sh("get", "-f", "/r/t", str(out)).exit_code == 0
    assert (out / "t" / "a.txt").read_bytes() == b"changed"


def test_special_files_and_symlink_loops_are_refused(fs, tmp_path):
    tree = tmp_path / "odd"
    tree.mkdir()
    (tree / "ok").write_bytes(b"1")
    os.mkfifo(tree / "pipe")
    with pytest.raises(errors.InvalidArgument, match="not a regular file"):
        fs.put(tree, "/odd")
    assert not fs.exists("/odd")
    (tree / "pipe").unlink()
    (tree / "loop").symlink_to(tree)
    with pytest.raises(errors.InvalidArgument, match="directory loop"):
        fs.put(tree, "/odd")
    assert not fs.exists("/odd")


@pytest.mark.parametrize("threads", ["1", "5"])
def test_threads_flag_copies_the_same_tree(sh, fs, tmp_path, threads):
    files = make_tree(tmp_path / "t")
    for i in range(20):
        files[f"many/f{i:02d}"] = os.urandom(3000 + i)
        (tmp_path / "t" / "many").mkdir(exist_ok=True)
        (tmp_path / "t" / "many" / f"f{i:02d}").write_bytes(files[f"many/f{i:02d}"])
    result = sh("put", "-t", threads, str(tmp_path / "t"), f"/threads{threads}")
    assert result.exit_code == 0, result.output
    result = sh("get", "--threads", threads, f"/threads{threads}", str(tmp_path / "back"))
    assert result.exit_code == 0, result.output
    assert local_files(tmp_path / "back") == files
    assert not [e for e in fs.ls(f"/threads{threads}", recursive=True) if e["under_construction"]]


def test_threads_must_be_positive(sh, fs, tmp_path):
    result = sh("put", "--threads", "0", str(tmp_path), "/nothing")
    assert result.exit_code == 2 and "--threads" in result.output
    with pytest.raises(errors.InvalidArgument, match="threads"):
        fs.get("/", tmp_path / "x", threads=0)
    assert not fs.exists("/nothing")
