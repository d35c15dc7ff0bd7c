"""The JobTracker's and the Worker's gauges at scrape time (docs/metrics.md)."""
from __future__ import annotations

from typing import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

JOB_STATES = ("running", "committing", "succeeded", "failed", "killed")


class JobtrackerCollector(Collector):
    def __init__(self, tracker) -> None:
        self.tracker = tracker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        scheduler = self.tracker.scheduler
        counts = dict.fromkeys(JOB_STATES, 0)
        seen = set()
        for job in scheduler.jobs.values():
            counts[job.state.value] = counts.get(job.state.value, 0) + 1
            seen.add(job.id)
        for job_id, status in self.tracker.finished.items():
            if job_id not in seen:
                counts[status["state"]] = counts.get(status["state"], 0) + 1
        jobs = GaugeMetricFamily("minidfs_jobtracker_jobs", "Jobs the JobTracker keeps in "
                                 "memory, by state", labels=("state",))
        for state, count in counts.items():
            jobs.add_metric((state,), count)
        yield jobs
        yield GaugeMetricFamily("minidfs_jobtracker_live_workers", "Workers heard from "
                                "within the timeout", value=len(scheduler.live_workers()))
        yield GaugeMetricFamily("minidfs_jobtracker_running_attempts", "Task attempts "
                                "running on the Workers",
                                value=sum(len(w.attempts) for w in scheduler.workers.values()))
        yield GaugeMetricFamily("minidfs_jobtracker_events", "Events kept in the event ring",
                                value=len(self.tracker.events.ring))


class WorkerCollector(Collector):
    def __init__(self, worker) -> None:
        self.worker = worker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("minidfs_worker_running_tasks", "Task attempts running here",
                                value=len(self.worker.running))
        yield GaugeMetricFamily("minidfs_worker_slots", "Task slots of this Worker",
                                value=self.worker.slots)
        yield GaugeMetricFamily("minidfs_worker_known_to_jobtracker", "1 once the JobTracker "
                                "answered a heartbeat", value=1 if self.worker.known_to_jobtracker() else 0)
