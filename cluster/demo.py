"""The minidfs demo: the whole story on a throw-away local HA cluster, told as it runs.

Behind `minidfs demo [--quick] [--home DIR] [--keep]` (minidfs/cli/demo_command.py,
which adds signal handling and exit codes) and usable from Python:

    from cluster.demo import run_demo
    outcome = run_demo(quick=True)          # prints the story to stdout

Seven steps: start an HA cluster (two NameNodes, three JournalNodes, four DataNodes, a
JobTracker and Workers); generate a corpus and put it in many small blocks; count its
words on the cluster (checked against a plain `collections.Counter`); SIGKILL a
DataNode and watch fsck heal; SIGKILL the active NameNode and time the standby's
takeover; count again and compare the part files byte for byte; tear down. Teardown
always happens, also when a step fails or the user presses Ctrl-C (a KeyboardInterrupt
reaches us), unless `keep` asked to leave a successful run's cluster up.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import itertools
import os
import pathlib
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import psutil

from cluster.local import LocalCluster
from examples import gen_corpus
from examples.wordcount import WordCount
from minidfs import errors
from minidfs.client import health
from minidfs.client.ha_admin import UNREACHABLE, ha_statuses
from minidfs.sizes import format_size

STEPS = 7
DFS_ROOT = "/demo"
CORPUS_DIR = f"{DFS_ROOT}/corpus"
CORPUS_SEED = 6
TOP_WORDS = 10
# Short timers so every fault plays out in seconds (docs/demo.md explains each).
CLUSTER_SETTINGS: dict[str, Any] = {
    "heartbeat_interval_s": 0.5,
    "dead_node_interval_s": 5.0,
    "ha_lease_duration_s": 2.0,
    "lease_soft_limit_s": 2.0,
}
# Upper bounds on the waits, far above what a healthy run needs, so a broken cluster
# ends the demo with a clear message instead of hanging it.
REPLICATED_WAIT_S = 30.0
DEAD_NODE_WAIT_S = 30.0
HEAL_WAIT_S = 60.0
FAILOVER_WAIT_S = 45.0
POLL_INTERVAL_S = 0.25
# Progress lines: at most one per this many seconds, so the story stays readable.
HEAL_PROGRESS_EVERY_S = 1.0
JOB_PROGRESS_EVERY_S = 3.0
COUNTERS_SHOWN = (
    ("job", "launched_maps"), ("job", "data_local_maps"), ("job", "rack_local_maps"),
    ("job", "other_local_maps"), ("job", "launched_reduces"),
    ("mapreduce", "map_input_records"), ("mapreduce", "map_output_records"),
    ("mapreduce", "reduce_shuffle_bytes"), ("mapreduce", "reduce_output_records"),
)


@dataclasses.dataclass(frozen=True)
class DemoPlan:
    """How big the demo is. Four DataNodes, so three replicas can be restored after one dies."""

    datanodes: int
    workers: int
    files: int
    corpus_bytes: int
    block_size_bytes: int
    reducers: int


FULL = DemoPlan(datanodes=4, workers=3, files=6, corpus_bytes=12 << 20,
                block_size_bytes=256 << 10, reducers=3)
QUICK = DemoPlan(datanodes=4, workers=2, files=3, corpus_bytes=3 << 20,
                 block_size_bytes=256 << 10, reducers=2)


@dataclasses.dataclass
class DemoOutcome:
    """What a finished run found; `home` is None once a temporary home was removed."""

    home: pathlib.Path | None
    kept_running: bool
    top_words: list[tuple[str, int]]
    failover_s: float
    new_active: str
    heal_s: float
    total_s: float


class Narrator:
    """Headed steps, indented lines and times since the start, flushed line by line."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.started = time.monotonic()
        self.step_started = self.started
        self.number = 0

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def step(self, title: str, number: int | None = None) -> None:
        """Numbers steps in order; the closing step keeps its number after an early end."""
        self.number = number or self.number + 1
        self.step_started = time.monotonic()
        self.line(f"\n[{self.number}/{STEPS}] {title}", indent="")

    def line(self, text: str, indent: str = "      ") -> None:
        print(f"{indent}{text}", file=self.out, flush=True)

    def done(self, text: str = "done") -> None:
        self.line(f"{text} ({time.monotonic() - self.step_started:.1f} s)")


class DemoError(errors.MinidfsError):
    """A step of the demo did not turn out as the story says."""


def run_demo(*, quick: bool = False, home: str | os.PathLike[str] | None = None,
             keep: bool = False, out: TextIO | None = None) -> DemoOutcome:
    """Runs the story; raises (after tearing down) DemoError or a minidfs error when a
    step fails, KeyboardInterrupt when interrupted. A temporary home is removed after a
    success or an interruption and kept (for its logs) after a failure; a given `home`
    must not hold a cluster yet and is always kept."""
    plan = QUICK if quick else FULL
    temporary = home is None
    root = pathlib.Path(tempfile.mkdtemp(prefix="minidfs-demo-") if temporary else home).resolve()
    if (root / "cluster.toml").exists():
        raise DemoError(f"{root}: already holds a cluster; give the demo an empty folder")
    narrator = Narrator(out or sys.stdout)
    try:
        outcome = Demo(root, plan, narrator).run(keep)
    except KeyboardInterrupt:
        if temporary:
            shutil.rmtree(root, ignore_errors=True)
        raise
    except (errors.MinidfsError, OSError) as e:
        raise DemoError(f"{one_line(e)} (the daemons' logs are in {root / 'logs'})") from e
    if temporary and not outcome.kept_running:
        shutil.rmtree(root, ignore_errors=True)
        outcome.home = None
    return outcome


class Demo:
    def __init__(self, root: pathlib.Path, plan: DemoPlan, narrator: Narrator) -> None:
        self.root = root
        self.plan = plan
        self.say = narrator
        self.cluster = LocalCluster(root, datanodes=plan.datanodes, workers=plan.workers,
                                    ha=True, block_size=plan.block_size_bytes, replication=3,
                                    **CLUSTER_SETTINGS)
        self.local_corpus = root / "work" / "corpus"
        self.top_words: list[tuple[str, int]] = []
        self.killed: list[str] = []

    def run(self, keep: bool) -> DemoOutcome:
        self.say.line("minidfs demo: a small HDFS + MapReduce, every daemon its own process.",
                      indent="")
        self.say.line(f"Home: {self.root}", indent="")
        kept = False
        try:
            self.start_cluster()
            with self.cluster.client() as fs:
                local_files = self.put_corpus(fs)
                expected = count_words(local_files)
                first = self.word_count(fs, f"{DFS_ROOT}/wordcount-1", expected)
                heal_s = self.lose_a_datanode(fs)
                failover_s, new_active = self.lose_the_active_namenode(fs)
                self.count_again(fs, first)
            kept = keep
        finally:
            if kept:
                self.tell_how_to_use()
            else:
                self.tear_down()
        return DemoOutcome(home=self.root, kept_running=kept, top_words=self.top_words,
                           failover_s=failover_s, new_active=new_active, heal_s=heal_s,
                           total_s=self.say.elapsed_s())

    # ---- 1. start ------------------------------------------------------------------

    def start_cluster(self) -> None:
        plan = self.plan
        self.say.step("Start an HA cluster")
        self.say.line(f"2 NameNodes (nn1, nn2) + 3 JournalNodes (jn1..jn3) for the edit log, "
                      f"{plan.datanodes} DataNodes (dn1..dn{plan.datanodes}),")
        self.say.line(f"a JobTracker (jt) and {plan.workers} Workers "
                      f"(w1..w{plan.workers}); every one a separate process.")
        self.say.line(f"Block size {format_size(plan.block_size_bytes)}, 3 replicas; a silent "
                      f"DataNode is dead after {CLUSTER_SETTINGS['dead_node_interval_s']:g} s, "
                      f"the NameNode lease lasts {CLUSTER_SETTINGS['ha_lease_duration_s']:g} s.")
        self.cluster.up()
        nodes = self.cluster.status()
        active = [n["name"] for n in nodes if n["kind"] == "namenode" and n["role"] == "active"]
        self.say.line(f"{len(nodes)} daemons serving; active NameNode: "
                      f"{', '.join(active) or 'none yet'}")
        for line in self.page_lines(active):
            self.say.line(line)
        self.say.done("cluster up")

    def page_lines(self, active: list[str]) -> list[str]:
        """Where to watch the story live in a browser (docs/observe.md)."""
        conf = self.cluster.conf
        namenode = conf.node(active[0]) if active else conf.namenodes[0]
        lines = []
        if namenode.http_address:
            lines.append(f"Watch it live: http://{namenode.http_address}/  "
                         "(NameNode status page: DataNodes, blocks, events)")
        if conf.jobtracker is not None and conf.jobtracker.http_address:
            lines.append(f"               http://{conf.jobtracker.http_address}/  "
                         "(JobTracker: jobs, attempts)")
        return lines

    # ---- 2. corpus -----------------------------------------------------------------

    def put_corpus(self, fs: Any) -> list[pathlib.Path]:
        plan = self.plan
        self.say.step("Generate a text corpus and put it into minidfs")
        started = time.monotonic()
        files = [pathlib.Path(p) for p in gen_corpus.generate(
            str(self.local_corpus), files=plan.files, total_bytes=plan.corpus_bytes,
            seed=CORPUS_SEED)]
        total = sum(p.stat().st_size for p in files)
        self.say.line(f"generated {len(files)} files, {format_size(total)} of Zipf-distributed "
                      f"words, in {time.monotonic() - started:.1f} s")
        fs.mkdir(CORPUS_DIR, parents=True)
        started = time.monotonic()
        for path in files:
            fs.put(path, f"{CORPUS_DIR}/{path.name}")
        put_s = time.monotonic() - started
        blocks = sum(len(fs.stat(f"{CORPUS_DIR}/{p.name}")["blocks"]) for p in files)
        self.say.line(f"put into {CORPUS_DIR} in {put_s:.1f} s "
                      f"({total / max(put_s, 1e-9) / 1e6:.1f} MB/s): {blocks} blocks, each "
                      f"written through a pipeline of 3 DataNodes")
        poll(lambda: health.fsck(fs.namenode, "/")["status"] == "HEALTHY", REPLICATED_WAIT_S,
             "every replica to be reported")
        per_node = {d["name"]: d["blocks"] for d in health.datanode_report(fs.namenode)}
        self.say.line("replicas per DataNode: "
                      + ", ".join(f"{name} {count}" for name, count in sorted(per_node.items())))
        self.say.done()
        return files

    # ---- 3. word count -------------------------------------------------------------

    def word_count(self, fs: Any, output: str,
                   expected: collections.Counter[str]) -> list[bytes]:
        self.say.step("Count the words with MapReduce on the cluster")
        self.say.line(f"examples/wordcount.py: mapper emits (word, 1), combiner and "
                      f"{self.plan.reducers} reducers sum")
        parts, result = self.run_job(fs, output)
        got = parse_counts(parts)
        self.top_words = sorted(got.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_WORDS]
        self.say.line(f"top {TOP_WORDS} of {len(got)} distinct words:")
        for rank, (word, count) in enumerate(self.top_words, 1):
            self.say.line(f"  {rank:2d}. {word:<14} {count:>8,}")
        self.say.line("counters:")
        for group, name in COUNTERS_SHOWN:
            self.say.line(f"  {name:<24} {result.counter(group, name):>10,}")
        if got != dict(expected):
            raise DemoError(f"{output}: word counts differ from collections.Counter "
                            "over the local files")
        self.say.line("same counts as collections.Counter over the local files: yes")
        self.say.done()
        return parts

    def run_job(self, fs: Any, output: str) -> tuple[list[bytes], Any]:
        last = {"at": 0.0, "seen": None}
        started = time.monotonic()

        def progress(status: dict[str, Any]) -> None:
            seen = (status["maps_completed"], status["reduces_completed"])
            finished = seen == (status["maps_total"], status["reduces_total"])
            now = time.monotonic()
            if seen != last["seen"] and (finished or now - last["at"] >= JOB_PROGRESS_EVERY_S):
                last.update(at=now, seen=seen)
                self.say.line(f"{now - started:5.1f} s  maps {seen[0]}/{status['maps_total']}"
                              f"  reduces {seen[1]}/{status['reduces_total']}")

        result = WordCount().run(input=CORPUS_DIR, output=output, reducers=self.plan.reducers,
                                 conf=self.cluster.conf_path, progress=progress)
        timings = result.timings
        self.say.line(f"{result.job_id} wrote {output} in {timings['total_s']:.1f} s "
                      f"(maps {timings['map_s']:.1f} s, reduces {timings['reduce_s']:.1f} s)")
        return [fs.cat(p) for p in result.output_paths], result

    # ---- 4. lose a DataNode ----------------------------------------------------------

    def lose_a_datanode(self, fs: Any) -> float:
        self.say.step("SIGKILL a DataNode and watch the NameNode heal")
        # The DataNode holding the most replicas: the most for the NameNode to repair.
        held, victim = max((d["blocks"], d["name"]) for d in health.datanode_report(fs.namenode))
        self.say.line(f"{victim} holds {held} block replicas; sending it SIGKILL")
        killed = time.monotonic()
        self.cluster.kill(victim, "KILL")
        self.killed.append(victim)

        def noticed() -> dict[str, Any] | None:
            report = health.fsck(fs.namenode, "/")
            return report if report["dead_datanodes"] or report["under_replicated"] else None

        report = poll(noticed, DEAD_NODE_WAIT_S, f"the NameNode to notice {victim} is gone")
        self.say.line(f"{time.monotonic() - killed:5.1f} s  NameNode: {victim} dead, "
                      f"{plural(report['under_replicated'], 'block')} under-replicated, "
                      f"fsck {report['status']}")
        noticed_at = time.monotonic()
        shown = {"at": noticed_at, "count": report["under_replicated"]}

        def healed() -> dict[str, Any] | None:
            report = health.fsck(fs.namenode, "/")
            now = time.monotonic()
            count = report["under_replicated"]
            if count and count != shown["count"] and now - shown["at"] >= HEAL_PROGRESS_EVERY_S:
                shown.update(at=now, count=count)
                self.say.line(f"{now - killed:5.1f} s  re-replicating: "
                              f"{plural(count, 'block')} under-replicated")
            return report if report["status"] == "HEALTHY" else None

        report = poll(healed, HEAL_WAIT_S, "fsck to report HEALTHY")
        heal_s = time.monotonic() - noticed_at
        self.say.line(f"{time.monotonic() - killed:5.1f} s  fsck {report['status']}: "
                      f"{report['blocks']} blocks, {report['under_replicated']} under-replicated, "
                      f"{report['missing']} missing, "
                      f"{report['live_datanodes']} live DataNodes")
        self.say.line(f"every block has 3 replicas again, {heal_s:.1f} s after the NameNode "
                      "noticed")
        self.say.done()
        return heal_s

    # ---- 5. lose the active NameNode ---------------------------------------------------

    def lose_the_active_namenode(self, fs: Any) -> tuple[float, str]:
        self.say.step("SIGKILL the active NameNode and watch the standby take over")
        before = ha_statuses(self.cluster.conf)
        self.show_roles(before)
        active = [s["name"] for s in before if s["role"] == "active"]
        if not active:
            raise DemoError("no active NameNode to kill")
        old = active[0]
        self.say.line(f"sending {old} SIGKILL, then writing a file until a write succeeds")
        killed = time.monotonic()
        self.cluster.kill(old, "KILL")
        self.killed.append(old)

        tries = itertools.count(1)

        def write() -> bool:
            # A new name per try: a try cut short may have left its file half-created.
            try:
                with fs.open(f"{DFS_ROOT}/after-failover-{next(tries)}.txt", "wb") as f:
                    f.write(b"written after the active NameNode died\n")
                return True
            except errors.MinidfsError:
                return False

        poll(write, FAILOVER_WAIT_S, "a write to succeed after the failover")
        failover_s = time.monotonic() - killed
        after = ha_statuses(self.cluster.conf)
        new = [s["name"] for s in after if s["role"] == "active"]
        self.say.line(f"{failover_s:5.1f} s  first successful write "
                      f"(SIGKILL -> file closed on {', '.join(new) or 'no NameNode?'})")
        self.show_roles(after)
        if new == [] or new[0] == old:
            raise DemoError(f"{old}: the standby did not take over")
        self.say.done()
        return failover_s, new[0]

    def show_roles(self, statuses: list[dict[str, Any]]) -> None:
        for s in statuses:
            if s["role"] == UNREACHABLE:
                self.say.line(f"  {s['name']}  down")
            else:
                self.say.line(f"  {s['name']}  {s['role']:<8} {s['state']:<16} "
                              f"epoch {s['epoch']}  last txid {s['last_txid']}")

    # ---- 6. again --------------------------------------------------------------------

    def count_again(self, fs: Any, first: list[bytes]) -> None:
        self.say.step("Count the words again, on the damaged cluster")
        self.say.line(f"{' and '.join(self.killed)} are gone")
        output = f"{DFS_ROOT}/wordcount-2"
        second, result = self.run_job(fs, output)
        if second != first:
            raise DemoError(f"{output}: part files differ from {DFS_ROOT}/wordcount-1")
        self.say.line(f"data-local maps {result.counter('job', 'data_local_maps')} of "
                      f"{result.counter('job', 'launched_maps')}")
        size = sum(len(p) for p in first)
        digest = hashlib.sha256(b"".join(first)).hexdigest()[:16]
        self.say.line(f"identical results: {len(first)} part files, {size:,} bytes, "
                      f"byte for byte (sha256 {digest}...)")
        self.say.done()

    # ---- 7. tear down ----------------------------------------------------------------

    def tear_down(self) -> None:
        with ignoring_interrupts():
            self.say.step("Tear everything down", number=STEPS)
            running = [n for n in self.cluster.status() if n["pid"] is not None] \
                if self.cluster.conf else []
            self.cluster.down()
            left = leftover_processes(self.root)
        if left:
            raise DemoError(f"still running after teardown: pids {', '.join(map(str, left))}")
        self.say.line(f"stopped the {len(running)} daemons still running; "
                      "no process of the demo is left")
        self.say.done()

    def tell_how_to_use(self) -> None:
        self.say.step("Leave the cluster running (--keep)", number=STEPS)
        home = self.root
        for line in self.page_lines([n["name"] for n in self.cluster.status()
                                     if n["kind"] == "namenode" and n["role"] == "active"]):
            self.say.line(line)
        for text in (f"export MINIDFS_HOME={home}",
                     "minidfs cluster status          # the killed nodes show as stopped",
                     "minidfs admin events --follow   # what the NameNode decided, live",
                     f"minidfs ls -R {DFS_ROOT}",
                     "minidfs fsck /",
                     (f"mapreduce run {sys.modules[WordCount.__module__].__file__} "
                      f"--input {CORPUS_DIR} --output {DFS_ROOT}/wordcount-3"),
                     *(f"minidfs cluster start {name}       # bring a killed node back"
                       for name in self.killed),
                     f"minidfs cluster down && rm -r {home}   # stop it and remove it"):
            self.say.line(f"  {text}")


def count_words(files: list[pathlib.Path]) -> collections.Counter[str]:
    """The sequential reference the cluster's result must equal."""
    counts: collections.Counter[str] = collections.Counter()
    for path in files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                counts.update(line.split())
    return counts


def parse_counts(parts: list[bytes]) -> dict[str, int]:
    counts = {}
    for part in parts:
        for line in part.decode("utf-8").splitlines():
            word, _, count = line.rpartition("\t")
            counts[word] = int(count)
    return counts


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def one_line(error: BaseException) -> str:
    """The error's message on one line: a failed job's message is a headline, the user's
    traceback and, last, the exception itself; keep the headline and the exception."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"


def poll(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """condition()'s first truthy value, asked every POLL_INTERVAL_S for up to timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise DemoError(f"gave up after {timeout_s:g} s waiting for {what}")
        time.sleep(POLL_INTERVAL_S)


@contextlib.contextmanager
def ignoring_interrupts() -> Iterator[None]:
    """A second Ctrl-C must not cut the teardown short and leave daemons behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def leftover_processes(root: pathlib.Path) -> list[int]:
    """Pids of processes started under root: a daemon names root's cluster.toml on its
    command line, a task child of a Worker runs in a folder below root."""
    me = psutil.Process()
    ours = {me.pid} | {p.pid for p in me.parents()}
    conf = str(root / "cluster.toml")
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd", "status"]):
        info = proc.info
        if info["pid"] in ours or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(info["cmdline"] or ())
        cwd = info["cwd"] or ""
        if conf in cmdline or cwd == str(root) or cwd.startswith(f"{root}{os.sep}"):
            found.append(info["pid"])
    return found
