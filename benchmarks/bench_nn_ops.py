"""Benchmark `nn_ops`: durable namespace operations per second from 8 concurrent
clients, each kind measured on its own: mkdir, create+complete of an empty file
(one op = both RPCs, what `open(path, "wb").close()` does), and stat (GetFileInfo).

Run by the harness (`python -m benchmarks --only nn_ops`). The 8 clients are 8
processes, each with its own minidfs.Client: a sync gRPC call costs ~100 us of
Python in the caller, so 8 threads of one process would measure our GIL, not the
NameNode. Baseline, measured in the same run with the same 8 caller processes:
raw gRPC unary echo (bytes in, the same bytes out, no protobuf) against a trivial
grpc.aio server in another process, written here (`python -m
benchmarks.bench_nn_ops --serve-echo`). The NameNode fsyncs every mutation before
it answers (group commit); the echo server does no work at all.

Every caller waits on a barrier after it has connected and made one warm-up
call, so process start-up is not timed; ops/s = all ops / (last caller's end -
first caller's start), on the machine-wide monotonic clock.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import pathlib
import queue
import subprocess
import sys
import time
from typing import Iterator

import grpc

from benchmarks.harness import Result, Sizes, Target, progress
from cluster import LocalCluster

CLIENTS = 8
MKDIR_TARGET = Target("ratio", ">=", 0.7)
ECHO_METHOD = "/benchecho.Echo/Call"
# About the size of a small namespace request (a path and a flag).
ECHO_PAYLOAD = b"/bench/nn_ops/c0/d000000\x10\x00"
CALL_DEADLINE_S = 30.0
START_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 10.0
ROOT = "/bench/nn_ops"
KINDS = ("mkdir", "create", "stat")


# ---- the echo server (its own process) ------------------------------------------

def _identity(b: bytes) -> bytes:
    return b


async def _serve_echo() -> None:
    async def call(request: bytes, context) -> bytes:
        return request

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("benchecho.Echo", {
        "Call": grpc.unary_unary_rpc_method_handler(
            call, request_deserializer=_identity, response_serializer=None)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    # The parent ends us by closing our stdin (by pid if that is not enough).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await server.stop(0)


@contextlib.contextmanager
def _echo_server() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_nn_ops", "--serve-echo"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            cwd=pathlib.Path(__file__).parents[1])
    try:
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"echo server did not start (said {line!r})")
        yield f"127.0.0.1:{int(line)}"
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT_S)


# ---- callers (each its own process) ------------------------------------------------

def _echo_caller(address: str, index: int, ops: int, barrier, results) -> None:
    channel = grpc.insecure_channel(address)
    call = channel.unary_unary(ECHO_METHOD, request_serializer=None,
                               response_deserializer=_identity)
    call(ECHO_PAYLOAD, timeout=CALL_DEADLINE_S)
    barrier.wait()
    start = time.monotonic()
    for _ in range(ops):
        call(ECHO_PAYLOAD, timeout=CALL_DEADLINE_S)
    results.put((index, start, time.monotonic()))
    channel.close()


def _path(index: int, i: int) -> str:
    return f"{ROOT}/c{index}/e{i:06d}"


def _minidfs_caller(conf: str, kind: str, index: int, ops: int, barrier, results) -> None:
    from minidfs import Client

    with Client(conf=conf) as fs:
        fs.info(ROOT)   # connect and warm up before the clock starts
        barrier.wait()
        start = time.monotonic()
        if kind == "mkdir":
            for i in range(ops):
                fs.mkdir(_path(index, i))
        elif kind == "create":
            for i in range(ops):
                fs.open(f"{_path(index, i)}/f", "wb").close()
        else:
            for i in range(ops):
                fs.info(_path(index, i))
        results.put((index, start, time.monotonic()))


def _run_callers(target, args: tuple, ops: int) -> float:
    """Runs CLIENTS caller processes; returns all their ops per second."""
    ctx = multiprocessing.get_context("spawn")   # no fork: the parent holds gRPC state
    barrier = ctx.Barrier(CLIENTS)
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, i, ops, barrier, results), daemon=True)
             for i in range(CLIENTS)]
    try:
        for p in procs:
            p.start()
        spans = []
        deadline = time.monotonic() + START_TIMEOUT_S + RUN_TIMEOUT_S
        while len(spans) < CLIENTS:
            try:
                spans.append(results.get(timeout=1.0))
            except queue.Empty:   # check that nobody died meanwhile
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead or time.monotonic() > deadline:
                    raise RuntimeError(f"a benchmark client failed (exit codes "
                                       f"{[p.exitcode for p in procs]})") from None
        for p in procs:
            p.join(STOP_TIMEOUT_S)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(STOP_TIMEOUT_S)
        barrier.abort()
    first = min(s for _, s, _ in spans)
    last = max(e for _, _, e in spans)
    return CLIENTS * ops / (last - first)


def _echo_ops_s(ops: int) -> float:
    with _echo_server() as address:
        return _run_callers(_echo_caller, (address,), ops)


def run(sizes: Sizes, workdir: pathlib.Path) -> list[Result]:
    ops = sizes.nn_ops_per_client
    figures: dict[str, float] = {}
    baselines: dict[str, float] = {}
    with LocalCluster(workdir / "cluster", datanodes=1, replication=1) as cluster:
        conf = str(cluster.conf_path)
        with cluster.client() as fs:
            for index in range(CLIENTS):
                fs.mkdir(f"{ROOT}/c{index}", parents=True)
        for kind in KINDS:
            # The echo baseline runs right before each kind: the machine is shared.
            progress(f"nn_ops: {kind} baseline (raw gRPC echo, {CLIENTS} processes x {ops})")
            baselines[kind] = _echo_ops_s(ops)
            progress(f"nn_ops: {kind} ({CLIENTS} processes x {ops})")
            figures[kind] = _run_callers(_minidfs_caller, (conf, kind), ops)
    detail = {"clients": CLIENTS, "client_kind": "processes", "ops_per_client": ops,
              "baseline": "raw gRPC unary echo, 8 caller processes, grpc.aio server"}
    return [
        Result("nn_ops.mkdir", figures["mkdir"], baselines["mkdir"], "ops/s", MKDIR_TARGET, detail),
        Result("nn_ops.create", figures["create"], baselines["create"], "ops/s", None,
               {**detail, "op": "Create + Complete of an empty file"}),
        Result("nn_ops.stat", figures["stat"], baselines["stat"], "ops/s", None,
               {**detail, "op": "GetFileInfo"}),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description="the nn_ops benchmark's echo server")
    parser.add_argument("--serve-echo", action="store_true", required=True)
    parser.parse_args()
    asyncio.run(_serve_echo())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
