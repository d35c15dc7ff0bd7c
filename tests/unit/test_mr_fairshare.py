"""Fair sharing of slots (fairshare.py and the scheduler's use of it) and resuming a
journaled job after a JobTracker restart (Scheduler.restore_job). Pure, scripted events."""
import pytest

from mapreduce.counters import Counters
from mapreduce.jobtracker.fairshare import JobDemand, fair_order, fair_shares, water_fill
from mapreduce.jobtracker.model import AttemptState, DoneTask, JobState
from mapreduce.jobtracker.scheduler import MapInput, Scheduler, SchedulerConfig
from minidfs.errors import InvalidArgument

J1, J2, J3 = "job_1_0001", "job_1_0002", "job_1_0003"


def maps(n):
    return [MapInput(("dn1",), ("/r1",)) for _ in range(n)]


def beat(s, worker, now, slots=1, running=(), reduce_slots=None, incarnation=""):
    return s.on_heartbeat(worker, slots, worker.replace("w", "dn"), now, rack="/r1",
                          running={a: 0.5 for a in running}, incarnation=incarnation,
                          free_reduce_slots=slots if reduce_slots is None else reduce_slots)


def test_water_fill_is_max_min_fair():
    assert water_fill({"a": 10, "b": 10}, 4) == {"a": 2.0, "b": 2.0}
    assert water_fill({"a": 1, "b": 10}, 4) == {"a": 1.0, "b": 3.0}
    assert water_fill({"a": 1, "b": 1}, 4) == {"a": 1.0, "b": 1.0}
    assert water_fill({}, 4) == {}
    assert water_fill({"a": 3}, 0) == {"a": 0.0}


def test_fair_shares_split_between_users_then_their_jobs():
    demands = [JobDemand(J1, "alice", 0, 40), JobDemand(J2, "alice", 0, 40),
               JobDemand(J3, "bob", 0, 40)]
    assert fair_shares(demands, 8) == {J1: 2.0, J2: 2.0, J3: 4.0}


def test_fair_order_prefers_the_user_then_the_job_with_fewest_running():
    order = fair_order([JobDemand(J1, "alice", 3, 0), JobDemand(J2, "alice", 0, 0),
                        JobDemand(J3, "bob", 2, 0)])
    assert order == [J3, J2, J1]   # bob runs 2 < alice's 3; within alice J2 runs none
    assert fair_order([JobDemand(J1, "a", 0, 0), JobDemand(J2, "a", 0, 0)]) == [J1, J2]


def test_a_short_job_behind_a_long_one_gets_the_next_free_slot():
    s = Scheduler(SchedulerConfig(speculative=False))
    s.submit(J1, maps(40), 1, now_ms=0, user="alice")
    first = beat(s, "w1", 0, slots=2, reduce_slots=0).assignments
    assert [a.job_id for a in first] == [J1, J1]
    s.submit(J2, maps(1), 1, now_ms=1, user="alice")
    s.on_attempt_succeeded(first[0].attempt_id, 2)
    second = beat(s, "w1", 3, slots=1, running=[first[1].attempt_id], reduce_slots=0)
    assert [a.job_id for a in second.assignments] == [J2]   # FIFO would give it to J1
    s.on_attempt_succeeded(second.assignments[0].attempt_id, 4)
    reduce = beat(s, "w1", 5, slots=0, running=[first[1].attempt_id], reduce_slots=1)
    assert [(a.job_id, a.kind) for a in reduce.assignments] == [(J2, "r")]


def test_two_users_share_slots_equally_whatever_their_job_counts():
    s = Scheduler(SchedulerConfig(speculative=False))
    s.submit(J1, maps(20), 0, now_ms=0, user="alice")
    s.submit(J2, maps(20), 0, now_ms=0, user="alice")
    s.submit(J3, maps(20), 0, now_ms=0, user="bob")
    got = beat(s, "w1", 0, slots=8, reduce_slots=0).assignments
    by_job = {j: sum(1 for a in got if a.job_id == j) for j in (J1, J2, J3)}
    assert by_job == {J1: 2, J2: 2, J3: 4}
    shares = s.shares()
    assert shares[J3] == pytest.approx(0.5) and shares[J1] == pytest.approx(0.25)


def test_shares_count_only_work_a_job_can_do():
    s = Scheduler(SchedulerConfig(speculative=False))
    s.submit(J1, maps(1), 0, now_ms=0, user="alice")
    s.submit(J2, maps(10), 0, now_ms=0, user="bob")
    beat(s, "w1", 0, slots=0, reduce_slots=0)
    s.workers["w1"].map_slots = 4
    shares = s.shares()   # 4 map slots + 0 reduce slots: J1 wants one, J2 the rest
    assert shares == {J1: pytest.approx(0.25), J2: pytest.approx(0.75)}


def test_speculation_never_takes_a_slot_another_job_could_use():
    s = Scheduler(SchedulerConfig(speculative_min_runtime_ms=10))
    s.submit(J1, maps(2), 0, now_ms=0)
    a, b = beat(s, "w1", 0, slots=2).assignments
    s.request_commit(a.attempt_id, 5)
    s.on_attempt_succeeded(a.attempt_id, 10)
    s.submit(J2, maps(1), 0, now_ms=10)
    got = beat(s, "w2", 1000, slots=1).assignments
    assert [(x.job_id, x.speculative) for x in got] == [(J2, False)]


def test_restored_job_keeps_committed_and_fetchable_outputs_and_reruns_the_rest():
    s = Scheduler(SchedulerConfig(speculative=False))
    done = [DoneTask("m", 0, "attempt_1_0001_m_000000_0", "w1", "inc1", Counters()),
            DoneTask("m", 1, "attempt_1_0001_m_000001_0", "w2", "inc2", Counters()),
            DoneTask("r", 1, "attempt_1_0001_r_000001_0", "w2", "inc2", Counters())]
    view = s.restore_job(J1, maps(3), 2, now_ms=0, done=done, attempt_base=21,
                         counters=Counters.from_triples([("job", "launched_maps", 3)]))
    assert (view.maps_completed, view.reduces_completed) == (2, 1)
    assert view.counters["job"]["launched_maps"] == 3
    assert view.counters["job"]["recovered_maps"] == 2
    # w2 comes back restarted: its map output is gone and re-run; w1 is as it was.
    beat(s, "w1", 1, slots=0, incarnation="inc1")
    got = beat(s, "w2", 1, slots=2, reduce_slots=0, incarnation="other").assignments
    assert sorted(a.attempt_id for a in got) == ["attempt_1_0001_m_000001_21",
                                                 "attempt_1_0001_m_000002_21"]
    assert s.map_outputs(J1)[0] == ("attempt_1_0001_m_000000_0", "w1")


def test_restored_map_outputs_of_a_silent_worker_are_rerun_after_the_timeout():
    s = Scheduler(SchedulerConfig(worker_timeout_ms=100, speculative=False))
    done = [DoneTask("m", 0, "attempt_1_0001_m_000000_0", "w1", "inc1", Counters())]
    s.restore_job(J1, maps(1), 1, now_ms=0, done=done, attempt_base=21)
    assert s.tick(50) == []
    assert s.tick(200) == ["w1"]
    got = beat(s, "w2", 201, slots=1, reduce_slots=0).assignments
    assert [a.attempt_id for a in got] == ["attempt_1_0001_m_000000_21"]


def test_restored_job_with_every_task_done_goes_straight_to_commit():
    s = Scheduler()
    done = [DoneTask("m", 0, "attempt_1_0001_m_000000_0", "w1", "i", Counters()),
            DoneTask("r", 0, "attempt_1_0001_r_000000_0", "w1", "i",
                     Counters.from_triples([("user", "n", 5)]))]
    view = s.restore_job(J1, maps(1), 1, now_ms=0, done=done, attempt_base=21)
    assert view.state is JobState.COMMITTING
    assert [e.job_id for e in s.drain_events()] == [J1]
    s.on_job_committed(J1, 1)
    assert s.view(J1).counters["user"] == {"n": 5}


def test_restore_refuses_attempt_numbers_past_the_limit_and_resent_results_are_ignored():
    s = Scheduler()
    with pytest.raises(InvalidArgument):
        s.restore_job(J1, maps(1), 0, now_ms=0, attempt_base=990)
    done = [DoneTask("m", 0, "attempt_1_0001_m_000000_0", "w1", "i", Counters())]
    s.restore_job(J2, maps(2), 1, now_ms=0, done=done, attempt_base=21)
    # The old JobTracker's attempt, re-sent by the Worker: already done, no effect.
    s.on_attempt_succeeded("attempt_1_0001_m_000000_0", 1)
    assert s.jobs[J2].maps[0].winner.state is AttemptState.SUCCEEDED


def test_jobs_that_ended_before_a_restart_are_cleaned_up_on_every_worker_once():
    s = Scheduler()
    s.add_stale_job(J2)
    s.add_stale_job(J3)
    assert beat(s, "w1", 0, slots=0).cleanup_jobs == [J2, J3]
    assert beat(s, "w1", 1, slots=0).cleanup_jobs == []
    assert beat(s, "w2", 1, slots=0).cleanup_jobs == [J2, J3]
