// Keeps the JobTracker pages current: the job list from /api/jobs, a job page
// (progress bars, counters, attempts) from /api/job/<id>, every second until the
// job has finished. The server rendered the same content, so the page is whole
// without JavaScript.
(function () {
  "use strict";
  var POLL_MS = 1000;
  var FINISHED = { succeeded: 1, failed: 1, killed: 1 };
  var page = document.body.getAttribute("data-page");
  var jobId = document.body.getAttribute("data-job");

  function set(id, value) {
    var el = document.getElementById(id);
    if (el && el.textContent !== value) { el.textContent = value; }
  }
  function fill(tableId, rows) {
    var tbody = document.querySelector("#" + tableId + " tbody");
    if (!tbody) { return; }
    var fresh = document.createElement("tbody");
    rows.forEach(function (cells) {
      var tr = document.createElement("tr");
      cells.forEach(function (c) {
        var td = document.createElement("td");
        if (c && c.href) {
          var a = document.createElement("a");
          a.href = c.href;
          a.textContent = c.text;
          td.appendChild(a);
        } else if (c && c.cls) {
          var span = document.createElement("span");
          span.className = c.cls;
          span.textContent = c.text;
          td.appendChild(span);
        } else {
          td.textContent = c;
        }
        tr.appendChild(td);
      });
      fresh.appendChild(tr);
    });
    tbody.parentNode.replaceChild(fresh, tbody);
  }
  function when(ms) { return ms ? new Date(ms).toLocaleString() : "-"; }
  function bar(prefix, fraction) {
    var pct = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
    var el = document.getElementById(prefix + "-bar");
    if (el) { el.style.width = pct + "%"; }
    set(prefix + "-pct", pct + "%");
  }
  function lastLine(text) {
    var lines = text.trim().split("\n");
    return lines[lines.length - 1] || "";
  }
  function drawJobs(data) {
    fill("jobs", data.jobs.map(function (s) {
      return [{ href: "/job/" + s.job_id, text: s.job_id }, s.name || "",
              { cls: "job-state", text: s.state },
              s.maps_completed + " / " + s.maps_total, s.reduces_completed + " / " + s.reduces_total,
              when(s.submitted_ms), s.elapsed_s + " s"];
    }));
    return true;
  }
  function drawJob(s) {
    set("job-state", s.state);
    set("job-elapsed", s.elapsed_s + " s");
    set("maps-done", s.maps_completed + " / " + s.maps_total);
    set("reduces-done", s.reduces_completed + " / " + s.reduces_total);
    bar("map", s.map_progress);
    bar("reduce", s.reduce_progress);
    set("job-error", s.error || "");
    var counters = [];
    Object.keys(s.counters || {}).sort().forEach(function (g) {
      Object.keys(s.counters[g]).sort().forEach(function (n) { counters.push([g, n, String(s.counters[g][n])]); });
    });
    fill("counters", counters);
    fill("attempts", (s.attempts || []).map(function (a) {
      return [a.attempt, (a.kind === "m" ? "map " : "reduce ") + a.task,
              { cls: "job-state", text: a.state + (a.speculative ? " (speculative)" : "") },
              a.worker, a.locality || "-", (a.duration_ms / 1000).toFixed(1) + " s", lastLine(a.error)];
    }));
    var note = document.getElementById("attempts-note");
    if (note) { note.style.display = (s.attempts || []).length ? "none" : ""; }
    document.body.setAttribute("data-state", s.state);
    return !FINISHED[s.state];
  }
  function poll() {
    var url = page === "job" ? "/api/job/" + encodeURIComponent(jobId) : "/api/jobs";
    fetch(url, { cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) { return page === "job" ? drawJob(data) : drawJobs(data); })
      .catch(function () { return true; })
      .then(function (again) { if (again) { setTimeout(poll, POLL_MS); } });
  }
  setTimeout(poll, POLL_MS);
})();
