"""One chaos run from start to verdict: plan, workload + nemesis, heal, quiet period,
observe, judge, report. Called by `minidfs cluster chaos` (cli/chaos_command.py) and
the chaos tests.

The run works under `/chaos/<seed>-<start time>` so it never touches a user's files
and several runs can share a cluster. After the faults stop and every node runs
again it waits (bounded) for fsck HEALTHY, then reads every complete file under the
run's directory and hands history + observation to the checker. Verdict "ok" means
no promise broke: nothing acknowledged was lost or undone, nothing failed became
visible, no two NameNodes were active in the same epoch, fsck came back HEALTHY in
time and every succeeded job equals the sequential count.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import pathlib
import re
import threading
import time
from typing import Any, Iterator

from cluster.chaos import checker, schedule as schedule_mod
from cluster.chaos.history import FAILED, OK, UNKNOWN, History
from cluster.chaos.nemesis import Nemesis, wait_until
from cluster.chaos.workload import JobWorker, StorageWorker, corpus, digest, word_counts
from minidfs.client import health

log = logging.getLogger("minidfs.chaos")

WORKLOADS = ("storage", "mapreduce")
STORAGE_WORKERS = 3
# After the faults stop: how long the cluster gets to be HEALTHY again, and how long
# in-flight operations get to finish before they count as unknown.
RECOVERY_TIMEOUT_S = 120.0
OPERATION_GRACE_S = 60.0
READ_ATTEMPTS = 3
OBSERVE_THREADS = 8
READ_RETRY_PAUSE_S = 2.0
WINDOW_S = 5.0
ACTIVE_LINE = re.compile(r"(\S+) is now active \(Primary\) in epoch (\d+)")


@dataclasses.dataclass
class Options:
    duration_s: float = 60.0
    seed: int = 1
    faults: tuple[str, ...] = ("kill", "pause", "restart", "disk-full", "corrupt")
    rate_per_min: float = schedule_mod.DEFAULT_RATE_PER_MIN
    workloads: tuple[str, ...] = ("storage",)
    brutal: bool = False
    recovery_timeout_s: float = RECOVERY_TIMEOUT_S


@contextlib.contextmanager
def logging_to(path: pathlib.Path) -> Iterator[None]:
    """The workload's clients warn about every pipeline failure they recover from;
    during a chaos run those lines go to a log file, not the terminal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        handler.close()


def shape_of(conf) -> schedule_mod.Shape:
    return schedule_mod.Shape(
        datanodes=tuple(n.name for n in conf.datanodes),
        namenodes=tuple(n.name for n in conf.namenodes),
        journalnodes=tuple(n.name for n in conf.journalnodes),
        workers=tuple(n.name for n in conf.workers),
        jobtracker=conf.jobtracker.name if conf.jobtracker else "",
        replication=conf.settings.replication)


def run(local, options: Options) -> dict[str, Any]:
    conf = local.conf
    if "partition" in options.faults:
        raise ValueError("partition: not available on this machine (no packet filter in "
                         "the kernel; see docs/chaos.md)")
    if "mapreduce" in options.workloads and conf.jobtracker is None:
        raise ValueError("the mapreduce workload needs a cluster with workers "
                         "(cluster up --workers N)")
    shape = shape_of(conf)
    if "mapreduce" not in options.workloads:
        shape = dataclasses.replace(shape, workers=(), jobtracker="")
    plan = schedule_mod.plan(shape, seed=options.seed, duration_s=options.duration_s,
                             faults=options.faults, rate_per_min=options.rate_per_min,
                             brutal=options.brutal)
    root = f"/chaos/{options.seed}-{time.strftime('%Y%m%dT%H%M%S')}"
    make_client = local.client
    started = time.monotonic()

    def clock() -> float:
        return time.monotonic() - started

    history = History()
    texts: list[bytes] = []
    with make_client() as fs:
        fs.mkdir(root, parents=True)
        if "mapreduce" in options.workloads:
            texts = corpus(options.seed)
            fs.mkdir(f"{root}/corpus")
            for i, text in enumerate(texts):
                with fs.open(f"{root}/corpus/part{i}.txt", "wb") as f:
                    f.write(text)
    started = time.monotonic()
    stop = threading.Event()
    workers: list[threading.Thread] = []
    if "storage" in options.workloads:
        workers += [StorageWorker(f"w{i}", make_client, root, history,
                                  options.seed * 1000 + i, clock, stop)
                    for i in range(STORAGE_WORKERS)]
    if "mapreduce" in options.workloads:
        workers.append(JobWorker(str(local.conf_path), make_client, root, history, clock, stop))
    nemesis = Nemesis(local, plan, options.seed, clock, make_client)
    for w in workers:
        w.start()
    nemesis_stop = threading.Event()
    nemesis_thread = threading.Thread(target=nemesis.run, args=(nemesis_stop,),
                                      name="chaos-nemesis", daemon=True)
    nemesis_thread.start()
    try:
        time.sleep(max(0.0, options.duration_s - clock()))
    finally:
        stop.set()
        nemesis_stop.set()
        nemesis_thread.join()
        nemesis.heal_all()
    faults_end_s = clock()
    for w in workers:
        w.join(OPERATION_GRACE_S)
    hung = [w.name for w in workers if w.is_alive()]
    for op in history.ops():
        if not op.outcome:      # still in flight: it may or may not happen
            op.outcome, op.error = UNKNOWN, "still running when the run ended"
    all_running = wait_until(lambda: all(n["state"] == "running" for n in local.status()), 30.0)
    recovery_s = wait_until(lambda: _healthy(make_client), options.recovery_timeout_s, poll_s=1.0)
    observed, open_files, unreadable = _observe(make_client, root, [w.label for w in workers
                                                                     if isinstance(w, StorageWorker)])
    ops = history.ops()
    violations = checker.judge([op for op in ops if op.kind != "job"], observed)
    violations += checker.read_violations(ops)
    violations += [checker.Violation("unreadable", p, 0, why) for p, why in unreadable.items()]
    violations += _job_violations(make_client, ops, texts)
    epochs = _epochs(local)
    for epoch, names in sorted(epochs.items()):
        if len(names) > 1:
            violations.append(checker.Violation("split-brain", "", 0,
                                                f"epoch {epoch} claimed by {', '.join(names)}"))
    if recovery_s is None:
        violations.append(checker.Violation("not-healthy", "/", 0, f"fsck not HEALTHY within "
                                            f"{options.recovery_timeout_s:g} s after the faults "
                                            f"stopped: {_fsck_summary(make_client)}"))
    return _report(options, plan, nemesis, ops, violations, observed, open_files,
                   faults_end_s, recovery_s, all_running, hung, epochs, root)


def _fsck_summary(make_client) -> str:
    try:
        with make_client() as fs:
            r = health.fsck(fs.namenode, "/", files=True, blocks=True, locations=True)
    except Exception as e:
        return f"fsck failed: {e}"
    bad = [f"{f['path']} {b['id']} live {b['live']}/{b['expected']} {b['problems']} "
           f"{[(x['datanode'], x['state']) for x in b.get('replicas', [])]}"
           for f in r.get("file_details", []) for b in f.get("blocks", []) if b["problems"]]
    return (f"{r['status']}: under-replicated {r['under_replicated']}, missing {r['missing']}, "
            f"corrupt {r['corrupt']}, live DataNodes {r['live_datanodes']}, dead "
            f"{r['dead_datanodes']}; first blocks: {'; '.join(bad[:5])}")


def _healthy(make_client) -> bool:
    with make_client() as fs:
        return bool(health.fsck(fs.namenode, "/")["healthy"])


def _observe(make_client, root: str, worker_dirs: list[str]):
    """{path: digest} of every complete file in the workers' directories, the paths
    still open (under construction), and those that could not be read. A read that
    fails is retried in later rounds (a replica may still be coming back)."""
    observed: dict[str, str] = {}
    open_files: list[str] = []
    unreadable: dict[str, str] = {}
    with make_client() as fs:
        pending = []
        for name in worker_dirs:
            directory = f"{root}/{name}"
            if not fs.exists(directory):
                continue
            for entry in fs.ls(directory, recursive=True):
                if entry["type"] != "file":
                    continue
                if entry.get("under_construction"):
                    open_files.append(entry["path"])
                else:
                    pending.append(entry["path"])
    for attempt in range(READ_ATTEMPTS):
        if attempt:
            time.sleep(READ_RETRY_PAUSE_S)
        _read_all(make_client, pending, observed, unreadable)
        pending = sorted(unreadable)
        if not pending:
            break
    return observed, open_files, unreadable


def _read_all(make_client, paths: list[str], observed: dict, unreadable: dict) -> None:
    """Reads paths with OBSERVE_THREADS clients at once (one Client per thread)."""
    def read_slice(part: list[str]) -> None:
        with make_client() as fs:
            for path in part:
                try:
                    observed[path] = digest(fs.cat(path))
                    unreadable.pop(path, None)
                except Exception as e:
                    unreadable[path] = f"{type(e).__name__}: {e}"[:300]

    threads = [threading.Thread(target=read_slice, args=(paths[i::OBSERVE_THREADS],), daemon=True)
               for i in range(min(OBSERVE_THREADS, len(paths)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _job_violations(make_client, ops, texts: list[bytes]) -> list[checker.Violation]:
    jobs = [op for op in ops if op.kind == "job"]
    if not jobs:
        return []
    expected = word_counts(texts)
    found: list[checker.Violation] = []
    with make_client() as fs:
        for op in jobs:
            done = fs.exists(f"{op.dst}/_SUCCESS")
            if op.outcome == FAILED and done:
                found.append(checker.Violation("phantom", op.dst, op.id,
                                               "a job reported failed left a _SUCCESS output"))
            if op.outcome == OK or (op.outcome == UNKNOWN and done):
                got: dict[str, int] = {}
                for entry in fs.ls(op.dst):
                    if entry["path"].rsplit("/", 1)[-1].startswith("part-"):
                        for line in fs.cat(entry["path"]).decode().splitlines():
                            word, _, count = line.partition("\t")
                            got[word] = got.get(word, 0) + int(count)
                if got != expected:
                    found.append(checker.Violation("wrong-output", op.dst, op.id,
                                                   f"job output differs from the sequential "
                                                   f"count ({len(got)} vs {len(expected)} words)"))
    return found


def _epochs(local) -> dict[int, list[str]]:
    """epoch -> NameNodes that said they became active in it (from their logs)."""
    claimed: dict[int, set[str]] = {}
    for node in local.conf.namenodes:
        for match in ACTIVE_LINE.finditer(local.log(node.name)):
            claimed.setdefault(int(match.group(2)), set()).add(node.name)
    return {epoch: sorted(names) for epoch, names in claimed.items()}


def _spans(faults: list[dict], end_s: float) -> list[tuple[dict, float, float]]:
    """(fault, injected at, healed at) by the clock of the run, not the plan."""
    healed = {f["fault"]: f["t_s"] for f in faults if f["action"] == "heal"}
    return [(f, f["t_s"], healed.get(f["fault"], end_s)) for f in faults
            if f["action"] == "inject" and f["ok"]]


def _timeline(ops, faults: list[dict], end_s: float) -> list[dict]:
    spans = _spans(faults, end_s)
    windows = []
    t = 0.0
    while t < end_s:
        in_window = [op for op in ops if t <= op.start_s < t + WINDOW_S]
        row = {"t_s": round(t, 1), "ops": len(in_window)}
        for outcome in (OK, FAILED, UNKNOWN):
            row[outcome] = sum(1 for op in in_window if op.outcome == outcome)
        row["faults"] = sorted({f"{f['kind']} {f['node']}" for f, start, end in spans
                                if start < t + WINDOW_S and end > t})
        windows.append(row)
        t += WINDOW_S
    return windows


def _report(options, plan, nemesis, ops, violations, observed, open_files, faults_end_s,
            recovery_s, all_running, hung, epochs, root) -> dict[str, Any]:
    lost = [v.as_dict() for v in violations]
    acknowledged = [op for op in ops if op.outcome == OK and op.kind != "read"]
    return {
        "verdict": "ok" if not violations else "lost",
        "seed": options.seed,
        "duration_s": options.duration_s,
        "root": root,
        "operations": len(ops),
        "acknowledged": len(acknowledged),
        "outcomes": {o: sum(1 for op in ops if op.outcome == o) for o in (OK, FAILED, UNKNOWN)},
        "by_kind": {k: sum(1 for op in ops if op.kind == k)
                    for k in sorted({op.kind for op in ops})},
        "lost": lost,
        "faults": nemesis.done,
        "planned_faults": [f.as_dict() for f in plan],
        "files_checked": len(observed),
        "open_files": open_files,
        "recovery_s": None if recovery_s is None else round(recovery_s, 2),
        "nodes_running_after_s": None if all_running is None else round(all_running, 2),
        "faults_end_s": round(faults_end_s, 2),
        "hung_workers": hung,
        "epochs": {str(k): v for k, v in sorted(epochs.items())},
        "timeline": _timeline(ops, nemesis.done, faults_end_s),
        "errors": _error_summary(ops),
    }


def _error_summary(ops, limit: int = 10) -> list[dict]:
    counts: dict[tuple[str, str], int] = {}
    for op in ops:
        if op.error:
            key = (op.outcome, op.error[:120])
            counts[key] = counts.get(key, 0) + 1
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:limit]
    return [{"outcome": o, "error": e, "count": n} for (o, e), n in top]


def text_lines(report: dict[str, Any]) -> list[str]:
    """The human report: timeline, faults, verdict."""
    lines = [f"chaos run {report['root']} seed {report['seed']}, {report['duration_s']:g} s"]
    lines.append(f"{'T(s)':>6} {'OPS':>5} {'OK':>5} {'FAIL':>5} {'UNKN':>5}  FAULTS")
    for row in report["timeline"]:
        lines.append(f"{row['t_s']:>6.1f} {row['ops']:>5} {row['ok']:>5} {row['failed']:>5} "
                     f"{row['unknown']:>5}  {', '.join(row['faults'])}")
    lines.append("faults:")
    for f in report["faults"]:
        status = "ok" if f["ok"] else "FAILED"
        lines.append(f"  {f['t_s']:>7.2f}s {f['action']:<6} {f['kind']:<9} {f['node']:<5} "
                     f"{status}{': ' + f['detail'] if f.get('detail') else ''}")
    o = report["outcomes"]
    lines.append(f"operations {report['operations']} (ok {o['ok']}, failed {o['failed']}, "
                 f"unknown {o['unknown']}), acknowledged changes {report['acknowledged']}, "
                 f"files checked {report['files_checked']}")
    recovery = report["recovery_s"]
    lines.append("fsck HEALTHY " + (f"{recovery:.1f} s after the faults stopped"
                                    if recovery is not None else "NOT reached"))
    for v in report["lost"]:
        lines.append(f"  {v['kind']}: {v['path']} (op {v['op']}): {v['detail']}")
    lines.append(f"verdict: {report['verdict'].upper()}"
                 + ("" if report["verdict"] == "ok" else f" ({len(report['lost'])} broken promises)"))
    return lines
