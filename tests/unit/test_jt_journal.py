"""The JobTracker's edit log: records replayed into the jobs a restart resumes
(recovery.py, pure) and the file that holds them (journal.py: torn tails, damage)."""
import pytest

from mapreduce.counters import Counters
from mapreduce.jobtracker import recovery
from mapreduce.jobtracker.journal import JobJournal
from mapreduce.splits import Split
from minidfs.errors import EditLogCorrupt, JobError

J1, J2 = "job_20260101000000_0001", "job_20260101000000_0002"


def submit(job_id, generation=1):
    return recovery.submit_record(job_id, "wc.WordCount", "/in", "/out-" + job_id[-1], 2,
                                  60.0, 1000, "alice", generation)


def task(attempt, worker="w1", incarnation="i1", n=1):
    return recovery.task_record(attempt, worker, incarnation,
                                Counters.from_triples([("user", "lines", n)]),
                                Counters.from_triples([("job", "launched_maps", n)]))


def test_replay_keeps_unfinished_jobs_with_their_done_tasks():
    records = [recovery.generation_record(1), submit(J1), submit(J2),
               task("attempt_20260101000000_0001_m_000000_0"),
               task("attempt_20260101000000_0001_m_000000_1", worker="w2", n=2),  # re-run
               task("attempt_20260101000000_0001_r_000001_0", n=3),
               task("attempt_20260101000000_0002_m_000000_0"),
               recovery.job_record(recovery.COMMITTING, J2),
               recovery.job_record(recovery.FINISHED, J2, state="succeeded"),
               recovery.generation_record(2)]
    state = recovery.replay(records)
    assert state.generation == 2
    assert [j.job_id for j in state.live()] == [J1]
    job = state.jobs[J1]
    done = {(d.kind, d.index): d for d in job.done_tasks()}
    assert set(done) == {("m", 0), ("r", 1)}
    assert done[("m", 0)].worker == "w2" and done[("m", 0)].counters.get("user", "lines") == 2
    assert job.counters().get("job", "launched_maps") == 3
    assert job.submit["user"] == "alice" and not job.committing


def test_compacted_journal_replays_to_the_same_live_jobs():
    records = [recovery.generation_record(4), submit(J1, 3),
               task("attempt_20260101000000_0001_m_000000_0"),
               recovery.job_record(recovery.KILL, J1), submit(J2),
               recovery.job_record(recovery.FINISHED, J2, state="failed")]
    again = recovery.replay(recovery.compacted(recovery.replay(records), 5))
    assert again.generation == 5 and [j.job_id for j in again.live()] == [J1]
    assert again.jobs[J1].killed and len(again.jobs[J1].done) == 1
    assert again.jobs[J1].submit["generation"] == 3


@pytest.mark.parametrize("records", [
    [{"op": "task", "job": J1, "txid": 1}],                       # before its submit
    [submit(J1), {"op": "rename", "job": J1}],                   # unknown op
    [submit(J1), dict(task("attempt_20260101000000_0001_m_000000_0"), kind="x")],
    [{"op": "submit", "job": "../etc"}],
    [{"op": "generation"}],
])
def test_a_record_that_makes_no_sense_is_corruption(records):
    with pytest.raises(EditLogCorrupt):
        recovery.replay(records)


def test_next_sequence_continues_after_a_start_in_the_same_second():
    ids = ["job_20260101000000_0007", "job_20260101000000_0002", "job_20251231000000_0099"]
    assert recovery.next_sequence("20260101000000", ids) == 8
    assert recovery.next_sequence("20260102000000", ids) == 1


def test_job_file_round_trip_and_damage():
    splits = [Split("/in/a", 0, 65536, ("dn1", "dn2")), Split("/in/a", 65536, 10)]
    assert recovery.decode_job_file(recovery.encode_job_file(splits, b"pkg")) == (splits, b"pkg")
    with pytest.raises(JobError):
        recovery.decode_job_file(b"\x93garbage")


def test_journal_append_read_rewrite_and_torn_tail(tmp_path):
    journal = JobJournal(tmp_path / "journal")
    assert journal.read() == []
    journal.rewrite([recovery.generation_record(1)])
    journal.append(submit(J1))
    assert journal.dirty
    journal.sync()
    assert not journal.dirty and journal.fsync_count == 1
    journal.append(task("attempt_20260101000000_0001_m_000000_0"))
    journal.close()
    with open(journal.path, "ab") as f:    # a crash in the middle of an append
        f.write(b"\x40\x00\x00\x00\x01\x02")
    again = JobJournal(tmp_path / "journal")
    records = again.read()
    assert [r["op"] for r in records] == ["generation", "submit", "task"]
    assert [r["txid"] for r in records] == [1, 2, 3]
    again.rewrite(records[:2])
    again.append(recovery.generation_record(2))
    again.close()
    assert [r["txid"] for r in JobJournal(tmp_path / "journal").read()] == [4, 5, 6]


def test_journal_damage_before_the_tail_stops_the_start(tmp_path):
    journal = JobJournal(tmp_path)
    journal.rewrite([recovery.generation_record(1), submit(J1), submit(J2)])
    journal.close()
    data = bytearray(journal.path.read_bytes())
    data[20] ^= 0xFF                      # inside the first record's payload
    journal.path.write_bytes(bytes(data))
    with pytest.raises(EditLogCorrupt):
        JobJournal(tmp_path).read()


def test_submission_files(tmp_path):
    journal = JobJournal(tmp_path)
    journal.read()
    journal.save_job(J1, b"data")
    assert journal.load_job(J1) == b"data" and journal.load_job(J2) is None
    assert journal.job_files() == [J1]
    journal.drop_job(J1)
    assert journal.job_files() == []
