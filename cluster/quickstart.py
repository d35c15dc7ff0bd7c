"""The quickstart demo (`./dev demo`, `python -m cluster.quickstart`).

Starts a local cluster in a temporary home, writes a generated file into it,
reads it back and checks every byte, lists it with its blocks and the DataNodes
holding them, and always tears the cluster down again (also on Ctrl-C).
"""
from __future__ import annotations

import argparse
import hashlib
import pathlib
import random
import shutil
import sys
import tempfile
import time

from cluster.local import LocalCluster, StartupError
from minidfs import errors
from minidfs.sizes import format_size, parse_size

DEFAULT_FILE_SIZE = "6MiB"
DEFAULT_BLOCK_SIZE = "1MiB"
DEFAULT_DATANODES = 3
# Wait this long for the NameNode to hear about every replica after close().
REPLICA_REPORT_WAIT_S = 10.0
MAX_BLOCKS_SHOWN = 8


def say(text: str) -> None:
    print(text, flush=True)


def generate(path: pathlib.Path, size: int, seed: int = 42) -> str:
    """A reproducible file of `size` random bytes; returns its sha256."""
    rng = random.Random(seed)
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = rng.randbytes(min(left, 1 << 20))
            f.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def sha256_of(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fully_replicated(fs, path: str, replication: int) -> dict:
    deadline = time.monotonic() + REPLICA_REPORT_WAIT_S
    while True:
        info = fs.stat(path)
        if all(len(b["locations"]) >= replication for b in info["blocks"]):
            return info
        if time.monotonic() >= deadline:
            return info
        time.sleep(0.2)


def demo(home: pathlib.Path, size: int, block_size: int, datanodes: int,
         secure: bool = False) -> int:
    replication = min(3, datanodes)
    mode = " in secure mode (mutual TLS, block tokens)" if secure else ""
    say(f"1. Starting a local cluster{mode} in {home}: one NameNode and {datanodes} "
        f"DataNodes, block size {format_size(block_size)}, {replication} replicas per block.")
    with LocalCluster(home, datanodes=datanodes, block_size=block_size,
                      replication=replication, secure=secure) as cluster:
        say(f"   The cluster serves (cluster file {cluster.conf_path}).")
        work = home / "work"
        work.mkdir()
        source = work / "sample.bin"
        expected = generate(source, size)
        say(f"2. Generated {source.name}: {format_size(size)} of random bytes.")
        with cluster.client() as fs:
            fs.mkdir("/demo", parents=True)
            started = time.monotonic()
            fs.put(source, "/demo/sample.bin")
            elapsed = time.monotonic() - started
            say(f"3. Put it into minidfs as /demo/sample.bin in {elapsed:.2f} s: it was cut "
                "into blocks, each written through a pipeline of DataNodes.")
            copy = work / "copy.bin"
            fs.get("/demo/sample.bin", copy)
            if sha256_of(copy) != expected:
                say("4. FAILED: the copy read back differs from the original.")
                return 1
            say("4. Read it back: identical to the original, byte for byte.")
            info = fully_replicated(fs, "/demo/sample.bin", replication)
            say(f"5. /demo/sample.bin is {info['length']} bytes in {len(info['blocks'])} blocks:")
            for block in info["blocks"][:MAX_BLOCKS_SHOWN]:
                say(f"     block {block['id']}: {block['length']} bytes on "
                    f"{', '.join(block['locations']) or 'no DataNode yet'}")
            if len(info["blocks"]) > MAX_BLOCKS_SHOWN:
                say(f"     ... and {len(info['blocks']) - MAX_BLOCKS_SHOWN} more blocks")
            say("   Listing /demo:")
            for entry in fs.ls("/demo"):
                say(f"     {entry['type']:<9} {entry['length']:>10}  {entry['path']}")
        say("6. Stopping the cluster.")
    say("Done: every daemon is stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cluster.quickstart", description=__doc__)
    parser.add_argument("--size", default=DEFAULT_FILE_SIZE, help="file size (e.g. 6MiB)")
    parser.add_argument("--block-size", default=DEFAULT_BLOCK_SIZE, help="block size (e.g. 1MiB)")
    parser.add_argument("--datanodes", type=int, default=DEFAULT_DATANODES)
    parser.add_argument("--keep", action="store_true", help="keep the temporary home (logs)")
    parser.add_argument("--secure", action="store_true",
                        help="secure mode: a CA, mutual TLS on every port, block tokens")
    args = parser.parse_args(argv)
    try:
        size, block_size = parse_size(args.size), parse_size(args.block_size)
    except errors.InvalidArgument as e:
        parser.error(str(e))
    home = pathlib.Path(tempfile.mkdtemp(prefix="minidfs-demo-"))
    try:
        return demo(home, size, block_size, args.datanodes, args.secure)
    except StartupError as e:
        print(f"quickstart: {e}\n{e.log_tail}", file=sys.stderr)
        return 1
    except errors.MinidfsError as e:
        print(f"quickstart: {e} (logs in {home / 'logs'})", file=sys.stderr)
        args.keep = True
        return 1
    except KeyboardInterrupt:
        print("quickstart: interrupted; the cluster was stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"quickstart: kept {home}", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
