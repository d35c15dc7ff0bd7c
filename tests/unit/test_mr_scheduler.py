"""The JobTracker's pure scheduler, driven by scripted events with explicit now_ms."""
import collections
import random

import pytest

from mapreduce.counters import Counters
from mapreduce.jobtracker.model import AttemptState, JobFinished, JobState, Locality
from mapreduce.jobtracker.scheduler import MapInput, Scheduler, SchedulerConfig

J1, J2 = "job_1_0001", "job_1_0002"


def maps(*locations):
    return [MapInput(tuple(loc), ("/r1",) if loc else ()) for loc in locations]


def beat(s, worker, now, slots=1, running=(), host=None, rack="/r1", incarnation="",
         reduce_slots=None):
    """A heartbeat with `slots` free map slots and as many (or reduce_slots) reduce slots."""
    return s.on_heartbeat(worker, slots, host or worker.replace("w", "dn"), now, rack=rack,
                          running={a: 0.5 for a in running}, incarnation=incarnation,
                          free_reduce_slots=slots if reduce_slots is None else reduce_slots)


def finish_maps(s, job, now):
    """Succeeds every running map attempt of job."""
    for attempt in list(s.attempts.values()):
        if attempt.task.job_id == job and attempt.task.kind == "m" \
                and attempt.state is AttemptState.RUNNING:
            s.on_attempt_succeeded(attempt.id, now)


def test_data_local_first_then_rack_then_other():
    s = Scheduler()
    s.submit(J1, maps(["dn1"], ["dn2", "dn3"], ["dn3"], []), 0, now_ms=0)
    d = beat(s, "w3", 0, slots=1)
    assert [(a.index, a.locality) for a in d.assignments] == [(1, Locality.DATA_LOCAL)]
    d = beat(s, "w9", 0, slots=1, rack="/r1", running=())
    assert [(a.index, a.locality) for a in d.assignments] == [(0, Locality.RACK_LOCAL)]
    d = beat(s, "w8", 0, slots=5, rack="/elsewhere")
    assert [(a.index, a.locality) for a in d.assignments] == [(2, Locality.OTHER), (3, Locality.OTHER)]
    counters = s.view(J1).counters["job"]
    assert counters["data_local_maps"] == 1 and counters["rack_local_maps"] == 1
    assert counters["other_local_maps"] == 2 and counters["launched_maps"] == 4


def test_reduces_wait_for_slowstart_and_job_commits():
    s = Scheduler()
    s.submit(J1, maps(["dn1"], ["dn1"]), 2, now_ms=0)
    d = beat(s, "w1", 0, slots=4)
    assert [a.kind for a in d.assignments] == ["m", "m"]
    running = [a.attempt_id for a in d.assignments]
    s.on_attempt_succeeded(running[0], 10, Counters({"mapreduce": {"map_input_records": 5}}))
    assert beat(s, "w1", 20, slots=3, running=running[1:]).assignments == []
    s.on_attempt_succeeded(running[1], 30, Counters({"mapreduce": {"map_input_records": 7}}))
    d = beat(s, "w1", 40, slots=3)
    reduces = [a.attempt_id for a in d.assignments]
    assert [a.kind for a in d.assignments] == ["r", "r"]
    for i, attempt in enumerate(reduces):
        assert s.request_commit(attempt, 50)
        s.on_attempt_succeeded(attempt, 60 + i)
    assert s.drain_events() == [JobFinished(J1, JobState.COMMITTING)]
    s.on_job_committed(J1, 70)
    view = s.view(J1)
    assert view.state is JobState.SUCCEEDED and view.map_progress == view.reduce_progress == 1.0
    assert view.counters["mapreduce"]["map_input_records"] == 12
    assert beat(s, "w1", 80).cleanup_jobs == [J1]


def test_slowstart_fraction_lets_reduces_start_early():
    s = Scheduler(SchedulerConfig(reduce_slowstart=0.5))
    s.submit(J1, maps(["dn1"], ["dn1"]), 1, now_ms=0)
    first = beat(s, "w1", 0, slots=1).assignments[0]
    s.on_attempt_succeeded(first.attempt_id, 5)
    kinds = [a.kind for a in beat(s, "w1", 10, slots=2).assignments]
    assert kinds == ["m", "r"]


def test_failures_retry_elsewhere_then_fail_the_job_with_the_last_error():
    s = Scheduler()
    s.submit(J1, maps(["dn1"]), 1, now_ms=0)
    s.submit(J2, maps(["dn2"]), 0, now_ms=0)
    beat(s, "w2", 0, slots=0)
    workers_used = []
    for n in range(4):
        # w1 gets the retry only when the task has failed everywhere else.
        for worker in ("w1", "w2"):
            d = beat(s, worker, n * 10, slots=1)
            mine = [a for a in d.assignments if a.job_id == J1]
            if mine:
                workers_used.append(worker)
                s.on_attempt_failed(mine[0].attempt_id, f"Traceback...\nValueError: {n}", n * 10 + 1)
                break
    assert workers_used[:2] == ["w1", "w2"]
    view = s.view(J1)
    assert view.state is JobState.FAILED
    assert "failed 4 times" in view.error and view.error.endswith("ValueError: 3")
    assert view.counters["job"]["failed_map_attempts"] == 4
    assert JobFinished(J1, JobState.FAILED) in s.drain_events()
    # The next job still runs.
    assert s.jobs[J2].state is JobState.RUNNING
    assert any(a.job_id == J2 for a in beat(s, "w2", 100, slots=2).assignments
               + beat(s, "w1", 100, slots=2).assignments) or s.view(J2).running_attempts


def test_lost_worker_reruns_running_and_finished_maps_without_counting_failures():
    s = Scheduler(SchedulerConfig(worker_timeout_ms=1000))
    s.submit(J1, maps(["dn1"], ["dn1"], ["dn2"]), 1, now_ms=0)
    a = beat(s, "w1", 0, slots=2).assignments
    b = beat(s, "w2", 0, slots=2).assignments
    assert len(a) == 2 and len(b) == 1
    s.on_attempt_succeeded(a[0].attempt_id, 100)
    s.on_attempt_succeeded(b[0].attempt_id, 100)
    assert s.map_outputs(J1)[a[0].index] == (a[0].attempt_id, "w1")
    beat(s, "w2", 900, slots=0)
    assert s.tick(1500) == ["w1"]
    view = s.view(J1)
    assert view.maps_completed == 1 and view.state is JobState.RUNNING
    assert all(t.failures == 0 for t in s.jobs[J1].maps)
    d = beat(s, "w2", 1600, slots=3)
    assert sorted(x.index for x in d.assignments) == [0, 1]
    assert s.view(J1).counters["job"]["maps_rerun_for_lost_output"] == 1


def test_running_reduces_never_block_a_lost_maps_rerun():
    """Separate slot pools: reducers waiting for a re-run map do not hold its slot."""
    s = Scheduler(SchedulerConfig(worker_timeout_ms=1000))
    s.submit(J1, maps(["dn1"], ["dn2"]), 2, now_ms=0)
    m1 = beat(s, "w1", 0, slots=1, reduce_slots=0).assignments[0]
    m2 = beat(s, "w2", 0, slots=1, reduce_slots=0).assignments[0]
    s.on_attempt_succeeded(m1.attempt_id, 10)
    s.on_attempt_succeeded(m2.attempt_id, 10)
    reduces = beat(s, "w1", 20, slots=0, reduce_slots=2).assignments
    assert [a.kind for a in reduces] == ["r", "r"]
    running = [a.attempt_id for a in reduces]
    beat(s, "w1", 900, slots=0, reduce_slots=0, running=running)
    assert s.tick(1500) == ["w2"]
    d = beat(s, "w1", 1600, slots=1, reduce_slots=0, running=running)
    assert [(a.kind, a.index) for a in d.assignments] == [("m", m2.index)]


def test_lost_worker_keeps_map_only_output():
    s = Scheduler(SchedulerConfig(worker_timeout_ms=1000))
    s.submit(J1, maps(["dn1"]), 0, now_ms=0)
    a = beat(s, "w1", 0).assignments[0]
    assert s.request_commit(a.attempt_id, 10)
    s.on_attempt_succeeded(a.attempt_id, 20)
    s.tick(5000)
    assert s.view(J1).state is JobState.COMMITTING


def test_speculative_backup_first_to_finish_wins():
    s = Scheduler(SchedulerConfig(speculative_min_runtime_ms=100, speculative_slowdown=2.0))
    s.submit(J1, maps(["dn1"], ["dn2"], ["dn1"]), 0, now_ms=0)
    slow = beat(s, "w2", 0, slots=1).assignments[0]
    fast = beat(s, "w1", 0, slots=2).assignments
    for i, a in enumerate(fast):
        assert s.request_commit(a.attempt_id, 40)
        s.on_attempt_succeeded(a.attempt_id, 50)
    # Not slow enough yet (mean 50 ms, limit max(100, 2*50)).
    assert beat(s, "w1", 90, slots=1).assignments == []
    backup = beat(s, "w1", 200, slots=1).assignments[0]
    assert backup.speculative and backup.index == slow.index
    assert beat(s, "w1", 210, slots=1, running=[backup.attempt_id]).assignments == []
    assert s.request_commit(backup.attempt_id, 220)
    assert not s.request_commit(slow.attempt_id, 221)
    s.on_attempt_succeeded(backup.attempt_id, 230)
    assert slow.attempt_id in beat(s, "w2", 240, running=[slow.attempt_id]).kill
    s.on_attempt_succeeded(slow.attempt_id, 250)   # too late: ignored
    assert s.view(J1).state is JobState.COMMITTING
    assert s.view(J1).counters["job"]["speculative_attempts"] == 1


def test_commit_grant_passes_on_only_when_its_holder_dies():
    s = Scheduler()
    s.submit(J1, [], 1, now_ms=0)
    first = beat(s, "w1", 0).assignments[0]
    assert s.request_commit(first.attempt_id, 1)
    assert s.request_commit(first.attempt_id, 2)  # idempotent for the holder
    s.on_attempt_failed(first.attempt_id, "disk on fire", 3)
    second = beat(s, "w2", 4).assignments[0]
    assert s.request_commit(second.attempt_id, 5)
    s.on_attempt_succeeded(second.attempt_id, 6)
    assert s.view(J1).state is JobState.COMMITTING


def test_success_without_commit_is_not_output():
    s = Scheduler()
    s.submit(J1, [], 1, now_ms=0)
    a = beat(s, "w1", 0).assignments[0]
    s.on_attempt_succeeded(a.attempt_id, 5)
    assert s.view(J1).state is JobState.RUNNING
    assert beat(s, "w1", 6).assignments[0].index == 0


def test_kill_job_stops_its_attempts():
    s = Scheduler()
    s.submit(J1, maps(["dn1"], ["dn1"]), 1, now_ms=0)
    running = [a.attempt_id for a in beat(s, "w1", 0, slots=2).assignments]
    view = s.kill_job(J1, 5)
    assert view.state is JobState.KILLED and view.running_attempts == 0
    d = beat(s, "w1", 6, running=running)
    assert sorted(d.kill) == sorted(running) and d.cleanup_jobs == [J1]
    assert d.assignments == []
    assert JobFinished(J1, JobState.KILLED) in s.drain_events()


def test_reconcile_requeues_unknown_and_kills_strays():
    s = Scheduler()
    s.submit(J1, maps(["dn1"]), 0, now_ms=0)
    a = beat(s, "w1", 0).assignments[0]
    d = beat(s, "w1", 10, slots=0, running=["attempt_9_0009_m_000000_0"])
    assert "attempt_9_0009_m_000000_0" in d.kill
    assert s.attempts[a.attempt_id].state is AttemptState.KILLED
    again = beat(s, "w1", 20).assignments[0]
    assert again.index == 0 and again.attempt_id.endswith("_1")


def test_restarted_worker_loses_its_map_outputs():
    s = Scheduler()
    s.submit(J1, maps(["dn1"]), 1, now_ms=0)
    a = beat(s, "w1", 0, incarnation="boot1").assignments[0]
    s.on_attempt_succeeded(a.attempt_id, 5)
    d = beat(s, "w1", 10, slots=1, incarnation="boot2")
    assert d.assignments[0].kind == "m"


def test_fetch_failure_reruns_the_map():
    s = Scheduler(SchedulerConfig(uber=False))   # the shuffle between two workers
    s.submit(J1, maps(["dn1"]), 1, now_ms=0)
    m = beat(s, "w1", 0).assignments[0]
    s.on_attempt_succeeded(m.attempt_id, 5)
    r = beat(s, "w2", 6).assignments[0]
    s.on_fetch_failure(J1, 0, "attempt_1_0001_m_000000_7", 7)   # stale report: ignored
    assert s.map_outputs(J1)[0] is not None
    s.on_fetch_failure(J1, 0, m.attempt_id, 8)
    assert s.map_outputs(J1) == [None]
    d = beat(s, "w2", 9, running=[r.attempt_id])
    assert [x.kind for x in d.assignments] == ["m"]


def test_empty_job_commits_at_once_and_limits():
    s = Scheduler()
    s.submit(J1, [], 0, now_ms=0)
    assert s.view(J1).state is JobState.COMMITTING
    with pytest.raises(Exception, match="already submitted"):
        s.submit(J1, [], 0, now_ms=0)
    with pytest.raises(Exception, match="no such job"):
        s.view("job_1_0042")


@pytest.mark.parametrize("seed", range(12))
def test_simulated_cluster_always_finishes_with_one_commit_per_task(seed):
    """Deterministic simulation: random failures, losses and restarts of workers."""
    rng = random.Random(seed)
    s = Scheduler(SchedulerConfig(worker_timeout_ms=500, speculative_min_runtime_ms=50,
                                  max_attempts=4, max_attempts_total=60))
    s.submit(J1, maps(*[[f"dn{rng.randint(1, 4)}"] for _ in range(12)]), 3, now_ms=0)
    s.submit(J2, maps(*[[f"dn{rng.randint(1, 4)}"] for _ in range(5)]), 0, now_ms=0)
    workers = {f"w{i}": {"alive": True, "running": set(), "boot": 0} for i in range(1, 5)}
    commits = {}
    now = 0
    while any(not s.jobs[j].state.finished for j in (J1, J2)) and now < 200_000:
        now += 20
        s.tick(now)
        for event in s.drain_events():
            if event.state is JobState.COMMITTING:
                s.on_job_committed(event.job_id, now)
        for name, w in workers.items():
            if not w["alive"]:
                if rng.random() < 0.05:
                    w["alive"], w["running"], w["boot"] = True, set(), w["boot"] + 1
                continue
            if rng.random() < 0.005:
                w["alive"] = False
                continue
            for attempt in sorted(w["running"]):
                roll = rng.random()
                if roll < 0.03:
                    s.on_attempt_failed(attempt, "boom", now)
                    w["running"].discard(attempt)
                elif roll < 0.3:
                    task = s.attempts[attempt].task
                    needs_commit = task.kind == "r" or not s.jobs[task.job_id].reduces
                    if needs_commit:
                        if not s.request_commit(attempt, now):
                            continue
                        key = (task.job_id, task.kind, task.index)
                        commits.setdefault(key, set()).add(attempt)
                    s.on_attempt_succeeded(attempt, now)
                    w["running"].discard(attempt)
            busy = collections.Counter(s.attempts[a].task.kind for a in w["running"])
            d = s.on_heartbeat(name, 2 - busy["m"], name.replace("w", "dn"), now,
                               running={a: 0.5 for a in w["running"]},
                               incarnation=str(w["boot"]), free_reduce_slots=2 - busy["r"])
            w["running"] -= set(d.kill)
            w["running"] |= {a.attempt_id for a in d.assignments}
            busy = collections.Counter(s.attempts[a].task.kind for a in w["running"])
            assert busy["m"] <= 2 and busy["r"] <= 2
    for job in (J1, J2):
        view = s.view(job)
        assert view.state in (JobState.SUCCEEDED, JobState.FAILED), (seed, view)
        if view.state is JobState.SUCCEEDED:
            assert view.maps_completed == view.maps_total
            assert view.reduces_completed == view.reduces_total
    # Commits of a task by more than one attempt happen only after the holder died
    # (the later one replaces the same output); never two holders alive at once.
    for task_commits in commits.values():
        states = [s.attempts[a].state for a in task_commits if a in s.attempts]
        assert sum(1 for st in states if st is AttemptState.SUCCEEDED) <= 1


def test_uber_reduce_rides_with_the_only_map():
    s = Scheduler()
    s.submit(J1, maps(["dn1"]), 1, now_ms=0)
    d = beat(s, "w1", 0)
    (m, r) = d.assignments
    assert (m.kind, r.kind, r.uber_map_attempt_id, m.uber_map_attempt_id) == ("m", "r", m.attempt_id, "")
    assert beat(s, "w2", 1).assignments == []
    assert beat(s, "w1", 2, running=[m.attempt_id, r.attempt_id]).assignments == []
    assert s.request_commit(r.attempt_id, 3)
    s.on_attempt_succeeded(m.attempt_id, 4)
    s.on_attempt_succeeded(r.attempt_id, 5)
    view = s.view(J1)
    assert view.state is JobState.COMMITTING
    assert view.counters["job"]["uber_reduces"] == 1 and view.counters["job"]["launched_reduces"] == 1


def test_uber_retries_run_the_usual_way():
    s = Scheduler()
    s.submit(J1, maps(["dn1"]), 1, now_ms=0)
    m, r = beat(s, "w1", 0).assignments
    s.on_attempt_failed(m.attempt_id, "boom", 1)
    s.on_attempt_failed(r.attempt_id, "its uber map attempt ended first", 1)
    d = beat(s, "w2", 2)
    assert [a.kind for a in d.assignments] == ["m"]
    s.on_attempt_succeeded(d.assignments[0].attempt_id, 3)
    d = beat(s, "w2", 4)
    assert [(a.kind, a.uber_map_attempt_id) for a in d.assignments] == [("r", "")]


@pytest.mark.parametrize("num_maps,reducers,reduce_slots,uber", [
    (2, 1, 1, False), (1, 2, 2, False), (1, 1, 0, False), (1, 0, 1, False)])
def test_uber_only_for_one_map_and_one_reduce_with_a_free_slot(num_maps, reducers, reduce_slots, uber):
    s = Scheduler()
    s.submit(J1, maps(*[["dn1"]] * num_maps), reducers, now_ms=0)
    d = beat(s, "w1", 0, slots=2, reduce_slots=reduce_slots)
    assert any(a.uber_map_attempt_id for a in d.assignments) is uber
    assert s.view(J1).counters["job"].get("uber_reduces", 0) == 0


def test_uber_off():
    s = Scheduler(SchedulerConfig(uber=False))
    s.submit(J1, maps(["dn1"]), 1, now_ms=0)
    assert [a.kind for a in beat(s, "w1", 0).assignments] == ["m"]
