"""MapReduce on a real local cluster: JobTracker, two Workers, three DataNodes.

Every distributed result is compared with a plain sequential computation (and with
the inline runner, which must produce the very same part files).
"""
import collections
import json
import os
import subprocess
import sys
import time

import pytest

from examples import gen_corpus
from examples.grep import Grep
from examples.inverted_index import InvertedIndex
from examples.sort import TotalOrderSort
from examples.wordcount import WordCount
from mapreduce import Job
from minidfs.errors import FileExists, FileNotFound, JobError

CLUSTER_OPTIONS = {"datanodes": 3, "workers": 2, "block_size": 64 * 1024}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, fs):
    """Three files of ~100-200 KiB (several 64 KiB blocks each) in /corpus."""
    local = tmp_path_factory.mktemp("corpus")
    paths = gen_corpus.generate(str(local / "in"), files=3, total_bytes=450_000, seed=11)
    fs.mkdir("/corpus", parents=True)
    for path in paths:
        fs.put(path, "/corpus/" + os.path.basename(path))
    return str(local / "in"), paths


def read_dfs(fs, paths):
    out = []
    for path in paths:
        with fs.open(path, "rb") as f:
            out.append(f.read())
    return out


def words(paths):
    return collections.Counter(w for p in paths for line in open(p, encoding="utf-8")
                               for w in line.split())


def test_word_count_equals_counter_and_inline_runner(cluster, fs, corpus, tmp_path):
    local_dir, paths = corpus
    result = WordCount().run(input="/corpus", output="/wc", reducers=3, conf=cluster.conf_path)
    assert fs.stat("/corpus/doc-0000.txt")["blocks"][1]  # the inputs span several blocks
    parts = read_dfs(fs, result.output_paths)
    got = {}
    for part in parts:
        for line in part.decode().splitlines():
            word, count = line.split("\t")
            got[word] = int(count)
    assert got == dict(words(paths))
    assert fs.exists("/wc/_SUCCESS") and not fs.exists("/wc/_temporary")
    counters = result.counters
    maps = counters["job"]["launched_maps"]
    assert maps == sum(len(fs.stat(f"/corpus/{os.path.basename(p)}")["blocks"]) for p in paths)
    assert counters["job"]["data_local_maps"] == maps  # replication 3 on 3 DataNodes
    assert counters["mapreduce"]["map_input_bytes"] == sum(os.path.getsize(p) for p in paths)
    # The inline runner is the same engine: with the same splits, the same bytes.
    inline = WordCount().run(input=local_dir, output=str(tmp_path / "wc"), reducers=3,
                             runner="inline", split_size=64 * 1024)
    assert [open(p, "rb").read() for p in inline.output_paths] == parts


class Slow(Job):
    """Each map task records where and when it ran (MIT 6.5840's parallelism test)."""
    pass_env = ("MR_TEST_DIR",)

    def mapper_init(self):
        worker = next(p for p in os.getcwd().split(os.sep) if p.startswith("w") and p[1:].isdigit())
        self.mark = (worker, time.time())
        time.sleep(1.0)

    def mapper(self, offset, line):
        return None

    def mapper_final(self):
        path = os.path.join(os.environ["MR_TEST_DIR"], f"{os.getpid()}-{time.time_ns()}")
        with open(path, "w") as f:
            json.dump([self.mark[0], self.mark[1], time.time()], f)
        yield "maps", 1

    def reducer(self, key, values):
        yield key, sum(values)


def test_map_tasks_run_in_parallel_on_different_workers(cluster, corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("MR_TEST_DIR", str(tmp_path))
    result = Slow().run(input="/corpus", output="/parallel", conf=cluster.conf_path)
    marks = [json.load(open(tmp_path / name)) for name in os.listdir(tmp_path)]
    assert len(marks) == result.counters["job"]["launched_maps"]
    assert {m[0] for m in marks} == {"w1", "w2"}
    overlapping = max(sum(1 for _, s, e in marks if s <= t < e) for _, t, _ in marks)
    assert overlapping >= 2
    assert result.timings["total_s"] < sum(e - s for _, s, e in marks)


def test_inverted_index_grep_and_sort_on_the_cluster(cluster, fs, corpus, monkeypatch):
    _, paths = corpus
    result = InvertedIndex().run(input="/corpus", output="/index", reducers=2,
                                 conf=cluster.conf_path)
    got = {}
    for part in read_dfs(fs, result.output_paths):
        for line in part.decode().splitlines():
            word, docs = line.split("\t")
            got[word] = json.loads(docs)
    want = collections.defaultdict(set)
    for p in paths:
        for line in open(p, encoding="utf-8"):
            for w in line.split():
                want[w].add(os.path.basename(p))
    assert got == {w: sorted(d) for w, d in want.items()}

    monkeypatch.setenv("GREP_PATTERN", "^ka")
    result = Grep().run(input="/corpus", output="/grep", reducers=0, conf=cluster.conf_path)
    lines = [line for part in read_dfs(fs, result.output_paths) for line in part.decode().splitlines()]
    expected = [line.rstrip("\n") for p in paths for line in open(p, encoding="utf-8")
                if line.startswith("ka")]
    assert sorted(line.split(":", 2)[2] for line in lines) == sorted(expected)

    result = TotalOrderSort().run(input="/corpus", output="/sorted", reducers=3,
                                  conf=cluster.conf_path)
    lines = [line for part in read_dfs(fs, result.output_paths) for line in part.decode().splitlines()]
    assert lines == sorted(line.rstrip("\n") for p in paths for line in open(p, encoding="utf-8"))


class Boom(Job):
    def mapper(self, offset, line):
        raise RuntimeError(f"user bug at offset {offset}")


def test_user_error_is_retried_then_fails_with_traceback_and_next_job_runs(cluster, fs, corpus):
    with pytest.raises(JobError) as info:
        Boom().run(input="/corpus/doc-0000.txt", output="/boom", conf=cluster.conf_path)
    message = str(info.value)
    assert "failed 4 times" in message
    assert "RuntimeError: user bug at offset" in message and "in mapper" in message
    assert not fs.exists("/boom/_SUCCESS")
    result = WordCount().run(input="/corpus/doc-0001.txt", output="/after-boom",
                             conf=cluster.conf_path)
    assert result.status == "succeeded"


class ReduceBoom(WordCount):
    def reducer(self, word, counts):
        raise RuntimeError("reducer bug")
        yield word, 0


def test_a_one_block_job_runs_uber_and_its_reducer_errors_are_its_own(cluster, fs, corpus):
    """One map + one reduce: one process (uber mode), the same output as the inline
    runner; a reducer that raises fails the reduce (not the map) with its traceback."""
    local_dir, paths = corpus
    fs.mkdir("/uber", parents=True)
    with open(paths[0], "rb") as f:
        head = f.read(40_000)
    head = head[:head.rfind(b"\n") + 1]
    with fs.open("/uber/in.txt", "wb") as f:
        f.write(head)
    result = WordCount().run(input="/uber/in.txt", output="/uber/out", conf=cluster.conf_path)
    assert result.counters["job"]["uber_reduces"] == 1
    assert result.counters["job"]["launched_reduces"] == 1
    assert "reduce_shuffle_bytes" not in result.counters["mapreduce"]
    got = dict(line.split("\t") for part in read_dfs(fs, result.output_paths)
               for line in part.decode().splitlines())
    assert {w: int(n) for w, n in got.items()} == dict(collections.Counter(head.decode().split()))
    with pytest.raises(JobError) as info:
        ReduceBoom().run(input="/uber/in.txt", output="/uber/boom", conf=cluster.conf_path)
    message = str(info.value)
    assert "_r_000000" in message and "RuntimeError: reducer bug" in message
    assert not fs.exists("/uber/boom/_SUCCESS")


def test_existing_output_and_missing_input_are_refused(cluster, fs, corpus):
    started = time.monotonic()
    with pytest.raises(FileExists, match="/wc: output directory already exists"):
        WordCount().run(input="/corpus", output="/wc", conf=cluster.conf_path)
    with pytest.raises(FileNotFound, match="/nope: input does not exist"):
        WordCount().run(input="/nope", output="/never", conf=cluster.conf_path)
    assert not fs.exists("/never")
    assert time.monotonic() - started < 5


def mapreduce_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "mapreduce.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_shell_run_status_list_kill(cluster, fs, corpus):
    conf = str(cluster.conf_path)
    done = mapreduce_cli("run", "examples/wordcount.py", "--input", "/corpus", "--output",
                         "/cli-wc", "--reducers", "2", "--conf", conf)
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip()
    assert "map 100% reduce 100%" in done.stderr and "Counters:" in done.stderr
    status = mapreduce_cli("status", job_id, "--json", "--conf", conf)
    found = json.loads(status.stdout)
    assert found["state"] == "succeeded" and found["output_paths"] == [
        "/cli-wc/part-00000", "/cli-wc/part-00001"]
    listing = mapreduce_cli("list", "--conf", conf)
    assert job_id in listing.stdout
    again = mapreduce_cli("run", "examples/wordcount.py:WordCount", "--input", "/corpus",
                          "--output", "/cli-wc", "--conf", conf)
    assert again.returncode == 1
    assert again.stderr.strip() == "mapreduce run: /cli-wc: output directory already exists"
    missing = mapreduce_cli("status", "job_1_0001", "--conf", conf)
    assert missing.returncode == 1 and "no such job" in missing.stderr
    usage = mapreduce_cli("run", "examples/wordcount.py", "--conf", conf)
    assert usage.returncode == 2


def test_status_survives_a_jobtracker_restart(cluster, corpus):
    from mapreduce.client import JobTrackerClient

    result = WordCount().run(input="/corpus/doc-0002.txt", output="/before-restart",
                             conf=cluster.conf_path)
    cluster.restart("jt")
    with JobTrackerClient(cluster.conf_path) as jobtracker:
        status = jobtracker.status(result.job_id)
    assert status["state"] == "succeeded" and status["output_paths"] == result.output_paths


def test_malformed_requests_are_refused_and_the_jobtracker_keeps_serving(cluster):
    import grpc

    from mapreduce.rpc import jobtracker_pb2 as pb
    from mapreduce.rpc import jobtracker_pb2_grpc
    from minidfs.config import load
    from minidfs.rpc import channels

    address = load(cluster.conf_path).jobtracker.address
    with channels.sync_channel(address) as channel:
        stub = jobtracker_pb2_grpc.JobTrackerStub(channel)
        bad = [
            ("Heartbeat", pb.HeartbeatRequest(worker="w99")),
            ("Heartbeat", pb.HeartbeatRequest(
                worker="w1", running=[pb.AttemptProgress(attempt_id="../../etc")])),
            ("GetJob", pb.JobRequest(job_id="job_../x")),
            ("Submit", pb.SubmitRequest(name="x", input="relative", output="/o",
                                        task_timeout_s=10)),
            ("Submit", pb.SubmitRequest(name="x", input="/corpus", output="/corpus/out",
                                        task_timeout_s=10)),
            ("Submit", pb.SubmitRequest(name="x", input="/corpus", output="/o", task_timeout_s=10,
                                        package=pb.JobPackage(module_name="m", module_file="../m.py",
                                                              class_name="J"))),
            ("CanCommit", pb.CommitRequest(attempt_id="attempt_x")),
        ]
        for method, request in bad:
            with pytest.raises(grpc.RpcError) as info:
                getattr(stub, method)(request, timeout=10)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, info.value)
        # A client call names its user (minidfs/identity.py); one that does not is refused.
        with pytest.raises(grpc.RpcError) as info:
            stub.ListJobs(pb.ListJobsRequest(), timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert stub.ListJobs(pb.ListJobsRequest(), timeout=10,
                             metadata=(("minidfs-user", "tester"),)).jobs


def test_jobs_run_as_their_submitter(cluster, fs, corpus):
    """alice's job reads her private input and writes output she owns; bob can
    neither read her input through a job nor look at or kill her job."""
    from mapreduce.client import JobTrackerClient
    from minidfs import Client
    from minidfs.errors import PermissionDeniedError

    conf = str(cluster.conf_path)
    with Client(conf=conf, user="alice") as alice:
        alice.mkdir("/tmp/alice-mr")
        alice.chmod("/tmp/alice-mr", 0o700)
        alice.put(corpus[1][0], "/tmp/alice-mr/in.txt")
        result = WordCount().run(input="/tmp/alice-mr/in.txt", output="/tmp/alice-mr/out",
                                 reducers=1, conf=conf, user="alice")
        out = alice.info("/tmp/alice-mr/out")
        part = alice.info(result.output_paths[0])
    assert (out["owner"], part["owner"]) == ("alice", "alice")
    assert dict(words(corpus[1][:1])) == {
        w: int(c) for w, c in (line.split("\t") for line in
                               read_dfs(fs, result.output_paths)[0].decode().splitlines())}
    with pytest.raises(PermissionDeniedError, match="user=bob"):
        WordCount().run(input="/tmp/alice-mr/in.txt", output="/tmp/bob-out", conf=conf,
                        user="bob")
    with JobTrackerClient(conf, user="bob") as jobtracker:
        with pytest.raises(PermissionDeniedError, match="not the job's owner"):
            jobtracker.status(result.job_id)
        with pytest.raises(PermissionDeniedError):
            jobtracker.kill(result.job_id)
    with JobTrackerClient(conf, user="alice") as jobtracker:
        assert jobtracker.status(result.job_id)["user"] == "alice"
    refused = mapreduce_cli("--user", "bob", "status", result.job_id, "--conf", conf)
    assert refused.returncode == 1
    assert refused.stderr.startswith("mapreduce status: ") and "permission denied" in refused.stderr
