"""The JobTracker's status pages (docs/observe.md), on its HTTP face:

- `/`: the job list (state, name, maps / reduces done, elapsed) and the newest events;
- `/job/<job id>`: one job - per-phase progress bars, counters, and every attempt
  with its state, Worker, locality, duration and the error of a failed one;
- `/api/jobs`, `/api/job/<job id>`: the same as JSON, polled every second by
  jobtracker.js so the pages follow a running job without reloading.

The tracker is read on the daemon's loop; nothing here changes it.
"""
from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from minidfs import errors
from minidfs.config import ClusterConfig
from minidfs.web import pages
from minidfs.web.face import HttpFace
from minidfs.web.pages import esc

MAX_LISTED_JOBS = 200
ATTEMPT_HEADERS = ["Attempt", "Task", "State", "Worker", "Locality", "Duration", "Error"]


def _elapsed_s(status: dict[str, Any]) -> float:
    end = status.get("finished_ms") or int(time.time() * 1000)
    return max(0.0, (end - (status.get("submitted_ms") or end)) / 1000)


def _bar(fraction: float, ident: str) -> str:
    pct = max(0.0, min(1.0, fraction)) * 100
    return (f'<span class="bar"><span id="{ident}-bar" style="width:{pct:.0f}%"></span></span> '
            f'<span id="{ident}-pct">{pct:.0f}%</span>')


class JobtrackerPages:
    def __init__(self, tracker, conf: ClusterConfig) -> None:
        self.tracker = tracker
        self.name = conf.jobtracker.name if conf.jobtracker else "jobtracker"

    def _job(self, job_id: str) -> dict[str, Any]:
        from mapreduce import ids

        status = dict(self.tracker.status(ids.validate_job_id(job_id)))
        status["elapsed_s"] = round(_elapsed_s(status), 1)
        status["attempts"] = self.tracker.attempts(job_id)
        return status

    def _jobs(self) -> list[dict[str, Any]]:
        found = self.tracker.list_jobs(MAX_LISTED_JOBS)
        return [{**s, "elapsed_s": round(_elapsed_s(s), 1)} for s in found]

    def _header(self) -> str:
        return (f'<header><h1>minidfs JobTracker <b>{esc(self.name)}</b></h1><nav>'
                f'<a href="/">Jobs</a> <a href="/metrics">Metrics</a></nav></header>')

    async def job_list(self, request: web.Request) -> web.Response:
        rows = [[f'<a href="/job/{esc(s["job_id"])}">{esc(s["job_id"])}</a>', esc(s.get("name", "")),
                 f'<span class="job-state">{esc(s["state"])}</span>',
                 f'{s.get("maps_completed", 0)} / {s.get("maps_total", 0)}',
                 f'{s.get("reduces_completed", 0)} / {s.get("reduces_total", 0)}',
                 esc(pages.wall(s.get("submitted_ms"))), f'{s["elapsed_s"]:g} s']
                for s in self._jobs()]
        body = (self._header() + "<main><section><h2>Jobs</h2>"
                + pages.table(["Job", "Name", "State", "Maps done", "Reduces done",
                               "Submitted", "Elapsed"], rows, "jobs")
                + ("" if rows else "<p>No jobs yet: <code>mapreduce run ...</code></p>")
                + "</section>" + pages.events_table(self.tracker.events.ring.newest(pages.PAGE_EVENTS))
                + "</main>")
        return pages.page(f"minidfs JobTracker {self.name}", body,
                          ("jobtracker.js", "events.js"), data={"page": "jobs"})

    async def job_page(self, request: web.Request) -> web.Response:
        job_id = request.match_info["job_id"]
        try:
            s = self._job(job_id)
        except errors.FileNotFound as e:
            return pages.error_page(404, "Not Found", str(e))
        except errors.MinidfsError as e:
            return pages.error_page(400, "Bad Request", str(e))
        body = self._header() + "<main>" + job_html(s) + "</main>"
        return pages.page(f"{job_id} - minidfs JobTracker", body, ("jobtracker.js",),
                          data={"page": "job", "job": job_id})

    async def api_jobs(self, request: web.Request) -> web.Response:
        return web.json_response({"jobs": self._jobs()})

    async def api_job(self, request: web.Request) -> web.Response:
        try:
            return web.json_response(self._job(request.match_info["job_id"]))
        except errors.FileNotFound as e:
            return web.json_response({"error": str(e)}, status=404)
        except errors.MinidfsError as e:
            return web.json_response({"error": str(e)}, status=400)


def job_html(s: dict[str, Any]) -> str:
    error = (f'<p class="error" id="job-error">{esc(s["error"])}</p>' if s.get("error")
             else '<p id="job-error"></p>')
    overview = (
        f'<section><h2>Job {esc(s["job_id"])} <span id="job-state" class="job-state">'
        f'{esc(s["state"])}</span></h2><table class="overview">'
        f'<tr><th>Name</th><td>{esc(s.get("name", ""))}</td></tr>'
        f'<tr><th>Input</th><td>{esc(s.get("input", ""))}</td></tr>'
        f'<tr><th>Output</th><td>{esc(s.get("output", ""))}</td></tr>'
        f'<tr><th>Submitted</th><td>{esc(pages.wall(s.get("submitted_ms")))}</td></tr>'
        f'<tr><th>Elapsed</th><td id="job-elapsed">{s["elapsed_s"]:g} s</td></tr>'
        f'<tr><th>Map phase</th><td>{_bar(s.get("map_progress", 0.0), "map")} '
        f'<span id="maps-done">{s.get("maps_completed", 0)} / {s.get("maps_total", 0)}</span> done</td></tr>'
        f'<tr><th>Reduce phase</th><td>{_bar(s.get("reduce_progress", 0.0), "reduce")} '
        f'<span id="reduces-done">{s.get("reduces_completed", 0)} / {s.get("reduces_total", 0)}'
        f'</span> done</td></tr></table>{error}</section>')
    counter_rows = [[esc(group), esc(name), str(value)]
                    for group, values in sorted((s.get("counters") or {}).items())
                    for name, value in sorted(values.items())]
    counters = ("<section><h2>Counters</h2>"
                + pages.table(["Group", "Counter", "Value"], counter_rows, "counters") + "</section>")
    attempts = ("<section><h2>Attempts</h2>"
                + pages.table(ATTEMPT_HEADERS, [attempt_row(a) for a in s.get("attempts", [])],
                              "attempts")
                + ("" if s.get("attempts") else
                   '<p class="note" id="attempts-note">No attempts yet (those of jobs that '
                   'finished before the JobTracker started are not kept).</p>') + "</section>")
    return overview + counters + attempts


def attempt_row(a: dict[str, Any]) -> list[str]:
    task = f'{"map" if a["kind"] == "m" else "reduce"} {a["task"]}'
    state = a["state"] + (" (speculative)" if a["speculative"] else "")
    error = a["error"].strip().splitlines()[-1] if a["error"].strip() else ""
    return [esc(a["attempt"]), esc(task), f'<span class="job-state">{esc(state)}</span>',
            esc(a["worker"]), esc(a["locality"] or "-"), f'{a["duration_ms"] / 1000:.1f} s',
            f'<span class="error" title="{esc(a["error"])}">{esc(error)}</span>' if error else ""]


def mount(face: HttpFace, tracker, conf: ClusterConfig) -> None:
    p = JobtrackerPages(tracker, conf)
    face.app.router.add_get("/", p.job_list)
    face.app.router.add_get("/job/{job_id}", p.job_page)
    face.app.router.add_get("/api/jobs", p.api_jobs)
    face.app.router.add_get("/api/job/{job_id}", p.api_job)
    pages.mount_common(face.app, tracker.events)
