// Keeps the NameNode overview and DataNodes table current: polls /api/status every
// second (the server shares one computed status between pollers) and redraws the
// cells the server rendered, so the page is whole without JavaScript too.
(function () {
  "use strict";
  var POLL_MS = 1000;
  var UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

  function size(n) {
    var i = 0;
    while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(1)) + " " + UNITS[i];
  }
  function set(id, value) {
    var el = document.getElementById(id);
    if (el && el.textContent !== value) { el.textContent = value; }
    return el;
  }
  function cell(row, value, cls) {
    var td = document.createElement("td");
    if (cls) {
      var span = document.createElement("span");
      span.className = cls;
      span.textContent = value;
      td.appendChild(span);
    } else {
      td.textContent = value;
    }
    row.appendChild(td);
  }
  function states(map) {
    var keys = Object.keys(map).sort();
    return keys.length ? keys.map(function (k) { return k + "=" + map[k]; }).join(" ") : "-";
  }
  function draw(s) {
    var health = set("ov-health", "");
    if (health) {
      var b = document.createElement("b");
      b.className = "health h-" + s.health.toLowerCase();
      b.textContent = s.health;
      health.textContent = "";
      health.appendChild(b);
    }
    set("ov-ha", s.role + " (" + s.ha_state + "), epoch " + s.epoch);
    set("ov-safe_mode", s.safe_mode ? "ON: " + s.safe_mode_reason : "off");
    set("ov-last_txid", String(s.last_txid));
    set("ov-capacity", size(s.capacity));
    set("ov-used", size(s.used) + (s.capacity ? " (" + (100 * s.used / s.capacity).toFixed(1) + "%)" : ""));
    set("ov-remaining", size(s.remaining));
    ["files", "blocks", "live_datanodes", "dead_datanodes", "decommissioning_datanodes",
     "under_replicated", "missing", "corrupt"].forEach(function (k) { set("ov-" + k, String(s[k])); });
    var role = document.getElementById("role");
    if (role) {
      var word = s.serving ? "active" : (s.role !== "active" ? "standby" : "not serving");
      role.textContent = word;
      role.className = "role role-" + word.replace(" ", "-");
    }
    var note = document.getElementById("standby-note");
    if (note) {
      note.style.display = s.serving ? "none" : "";
      if (!s.serving && !note.textContent) { location.reload(); }
    }
    var tbody = document.querySelector("#datanodes tbody");
    if (!tbody) { return; }
    var fresh = document.createElement("tbody");
    s.datanodes.forEach(function (d) {
      var row = document.createElement("tr");
      row.setAttribute("data-node", d.name);
      cell(row, d.name);
      cell(row, d.state, "dn-state s-" + d.state);
      cell(row, d.address);
      cell(row, d.rack);
      cell(row, d.last_contact_s + " s ago");
      cell(row, size(d.capacity));
      cell(row, size(d.used));
      cell(row, size(d.remaining));
      cell(row, String(d.blocks));
      cell(row, states(d.replica_states));
      cell(row, String(d.active_transfers));
      fresh.appendChild(row);
    });
    tbody.parentNode.replaceChild(fresh, tbody);
    document.body.setAttribute("data-updated", String(Date.now()));
  }
  function poll() {
    fetch("/api/status", { cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(draw)
      .catch(function () { set("ov-health", "NameNode not answering"); })
      .then(function () { setTimeout(poll, POLL_MS); });
  }
  setTimeout(poll, POLL_MS);
})();
