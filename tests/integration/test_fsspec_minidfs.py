"""`minidfs://` (minidfs/fsspec_fs.py) on a real cluster: fsspec's own conformance
suite (fsspec.tests.abstract: copy, get, put, open, pipe), URLs through the
`fsspec.specs` entry point, ranged reads, pandas reading and writing CSV and Parquet,
pyarrow's filesystem over it, and dask.bag reading text in block-sized partitions."""
from __future__ import annotations

import os
import posixpath

import fsspec
import pytest
from fsspec.tests import abstract

from minidfs.fsspec_fs import MinidfsFileSystem

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 0, "block_size": 64 * 1024}


@pytest.fixture(scope="module")
def minidfs_fs(cluster):
    fs = MinidfsFileSystem(conf=str(cluster.conf.path), skip_instance_cache=True)
    yield fs
    fs.client.close()


class MinidfsFixtures(abstract.AbstractFixtures):
    @pytest.fixture
    def fs(self, minidfs_fs):
        return minidfs_fs

    @pytest.fixture
    def fs_join(self):
        return posixpath.join

    @pytest.fixture
    def fs_path(self, minidfs_fs):
        path = "/fsspec-abstract"
        minidfs_fs.makedirs(path, exist_ok=True)
        yield path
        minidfs_fs.rm(path, recursive=True)


class TestMinidfsCopy(abstract.AbstractCopyTests, MinidfsFixtures):
    pass


class TestMinidfsGet(abstract.AbstractGetTests, MinidfsFixtures):
    pass


class TestMinidfsPut(abstract.AbstractPutTests, MinidfsFixtures):
    pass


class TestMinidfsOpen(abstract.AbstractOpenTests, MinidfsFixtures):
    pass


class TestMinidfsPipe(abstract.AbstractPipeTests, MinidfsFixtures):
    pass


def test_urls_through_the_entry_point(cluster, monkeypatch):
    monkeypatch.setenv("MINIDFS_HOME", str(cluster.conf.path.parent))
    MinidfsFileSystem.clear_instance_cache()   # one cached per storage options
    data = os.urandom(300_000)
    with fsspec.open("minidfs:///urls/a.bin", "wb") as f:
        f.write(data)
    with fsspec.open("minidfs:///urls/a.bin", "rb", block_size=70_000) as f:
        f.seek(100_000)
        assert f.read(150_000) == data[100_000:250_000]
    fs = fsspec.filesystem("minidfs")
    assert fs.cat_file("/urls/a.bin", start=-10) == data[-10:]
    assert fs.info("minidfs:///urls/a.bin")["size"] == 300_000
    with pytest.raises(FileNotFoundError):
        fs.info("/urls/missing")
    with pytest.raises(FileExistsError):
        fs.pipe_file("/urls/a.bin", b"x", mode="create")
    fs.rm("/urls", recursive=True)
    assert not fs.exists("/urls")


def test_pandas_csv(cluster, monkeypatch):
    import pandas as pd

    monkeypatch.setenv("MINIDFS_HOME", str(cluster.conf.path.parent))
    MinidfsFileSystem.clear_instance_cache()
    frame = pd.DataFrame({"city": ["Oslo", "Lima", "Pune"] * 2000, "n": range(6000)})
    frame.to_csv("minidfs:///pandas/cities.csv", index=False)
    assert pd.read_csv("minidfs:///pandas/cities.csv").equals(frame)


def test_parquet_and_pyarrow_filesystem(minidfs_fs):
    import pandas as pd
    import pyarrow.fs

    frame = pd.DataFrame({"k": list(range(5000)), "v": [f"row{i}" for i in range(5000)]})
    frame.to_parquet("minidfs:///parquet/t.parquet",
                     storage_options={"conf": minidfs_fs.storage_options["conf"]})
    back = pd.read_parquet("/parquet/t.parquet", filesystem=minidfs_fs)
    assert back.equals(frame)
    arrow = pyarrow.fs.PyFileSystem(pyarrow.fs.FSSpecHandler(minidfs_fs))
    info = arrow.get_file_info("/parquet/t.parquet")
    assert info.type == pyarrow.fs.FileType.File and info.size == minidfs_fs.size("/parquet/t.parquet")
    with arrow.open_input_file("/parquet/t.parquet") as f:
        assert f.read(4) == b"PAR1"
    minidfs_fs.rm("/parquet", recursive=True)


def test_dask_bag_read_text(minidfs_fs):
    import dask.bag as db

    for i in range(3):
        minidfs_fs.pipe_file(f"/dask/{i}.log", b"hello world\n" * 20_000)
    bag = db.read_text("minidfs:///dask/*.log", blocksize=100_000,
                       storage_options={"conf": minidfs_fs.storage_options["conf"]})
    assert bag.npartitions == 6
    counts = dict(bag.str.split().flatten().frequencies().compute(scheduler="sync"))
    assert counts == {"hello": 60_000, "world": 60_000}
    minidfs_fs.rm("/dask", recursive=True)

