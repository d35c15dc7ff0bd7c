// Live events for a status page: follows the daemon's /events/stream (server-sent
// events) from the newest event the server rendered, newest row first. The browser
// reconnects by itself; the page keeps at most MAX_ROWS rows.
(function () {
  "use strict";
  var MAX_ROWS = 200;
  var box = document.getElementById("events-box");
  if (!box || !window.EventSource) { return; }
  var tbody = box.querySelector("tbody");
  var last = parseInt(box.getAttribute("data-last-seq") || "0", 10);

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) { el.className = cls; }
    return el;
  }
  function pad(n, w) { n = String(n); while (n.length < w) { n = "0" + n; } return n; }
  function when(ms) {
    var d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1, 2) + "-" + pad(d.getDate(), 2) + " " +
      pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2);
  }
  function add(ev) {
    if (ev.seq <= last) { return; }
    last = ev.seq;
    box.setAttribute("data-last-seq", String(last));
    var row = document.createElement("tr");
    var kind = document.createElement("td");
    kind.appendChild(text("span", ev.kind, "kind k-" + ev.kind));
    var keys = Object.keys(ev.subjects).sort();
    var subjects = keys.map(function (k) { return k + "=" + ev.subjects[k]; }).join(" ");
    row.appendChild(text("td", when(ev.time_ms)));
    row.appendChild(kind);
    row.appendChild(text("td", subjects));
    tbody.insertBefore(row, tbody.firstChild);
    while (tbody.rows.length > MAX_ROWS) { tbody.deleteRow(tbody.rows.length - 1); }
  }
  function connect() {
    var source = new EventSource("/events/stream?after=" + last);
    source.onmessage = function (msg) { add(JSON.parse(msg.data)); };
    source.onerror = function () {
      // The server ended the stream (it fell behind, or restarted): follow again
      // from the last event seen, after a pause.
      source.close();
      setTimeout(connect, 2000);
    };
  }
  connect();
})();
