/**
 * The read-only dashboard: one self-contained page (no framework, nothing fetched from outside)
 * that polls /api/fleet, /api/history and /api/drift on the same listener and redraws.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chunkswarm fleet</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d232a; background: #f7f8fa; }
  h1 { font-size: 20px; margin: 0 0 .2em; }
  h2 { font-size: 16px; margin: 1.6em 0 .5em; }
  #summary { color: #444; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e3e6ea; white-space: nowrap; }
  th { background: #eef1f4; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .bar { display: inline-block; width: 120px; height: 10px; background: #e3e6ea; vertical-align: middle; margin-right: 6px; }
  .bar > span { display: block; height: 100%; background: #2f7d32; }
  .st-error, .st-unreachable, .st-unauthenticated, .st-blocked { color: #b3261e; font-weight: 600; }
  .st-fetching, .st-staged, .st-pinned { color: #8a5a00; }
  .st-live, .st-seeding { color: #2f7d32; }
  pre { background: #fff; border: 1px solid #e3e6ea; padding: 6px; overflow-x: auto; margin: 4px 0 10px; }
  .add { color: #2f7d32; } .del { color: #b3261e; }
  #chart { background: #fff; border: 1px solid #e3e6ea; }
  .legend span { display: inline-block; width: 12px; height: 3px; vertical-align: middle; margin: 0 4px 0 12px; }
  .muted { color: #777; }
</style>
</head>
<body>
<h1>chunkswarm fleet</h1>
<div id="summary" class="muted">loading…</div>
<h2>Nodes</h2>
<table id="fleet">
  <thead><tr><th>node</th><th>address</th><th>live</th><th>newest</th><th>state</th><th>rollout of the newest release</th><th>drift</th><th>from peers</th><th>from publisher</th><th>sent</th><th>last seen</th></tr></thead>
  <tbody></tbody>
</table>
<h2>Bytes received by the followers</h2>
<div class="legend"><span style="background:#1565c0"></span>from the publisher<span style="background:#2f7d32"></span>from peers</div>
<svg id="chart" width="760" height="200" viewBox="0 0 760 200" role="img" aria-label="bytes from the publisher and from peers over time"></svg>
<h2>Drift records on this node</h2>
<div id="drift" class="muted">none</div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
function bytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + " " + u[i];
}
function rollout(n, newest) {
  if (newest === null) return "";
  const pct = n.live === newest ? 100 : n.percent === null ? 0 : n.percent;
  return '<span class="bar"><span style="width:' + pct + '%"></span></span>' + pct.toFixed(pct === 100 ? 0 : 1) + " %";
}
function drift(n) {
  const d = n.drift;
  const parts = [];
  if (d.live) parts.push(d.live + " path(s) changed");
  if (d.unpulled.length) parts.push(d.unpulled.length + " unpulled: " + d.unpulled.join(", "));
  return parts.length ? '<span class="st-blocked">' + esc(parts.join("; ")) + "</span>" : "-";
}
async function get(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(path + ": " + r.status);
  return r.json();
}
function drawFleet(v) {
  const s = v.summary;
  $("summary").textContent = s.nodes + " nodes, " + s.onNewest + " on the newest release" + (s.newest === null ? "" : " (" + s.newest + ")") +
    ", " + s.lagging + " lagging" + (s.unreachable ? ", " + s.unreachable + " unreachable" : "") + (s.errors ? ", " + s.errors + " in error" : "") +
    (s.drifted ? ", " + s.drifted + " with drift" : "") + " — as seen by this node at " + v.at;
  $("fleet").tBodies[0].innerHTML = v.nodes.map((n) => "<tr data-node=\\"" + esc(n.name) + "\\">" +
    "<td>" + esc(n.name) + (n.publisher ? " (publisher)" : "") + (n.self ? " *" : "") + "</td>" +
    "<td>" + esc(n.address ?? "-") + "</td><td class=num>" + (n.live ?? "-") + "</td><td class=num>" + (n.newest ?? "-") + "</td>" +
    '<td class="st-' + n.state + '">' + esc(n.stateText) + "</td><td>" + rollout(n, s.newest) + "</td><td>" + drift(n) + "</td>" +
    "<td class=num>" + bytes(n.bytesFromPeers) + "</td><td class=num>" + bytes(n.bytesFromPublisher) + "</td><td class=num>" + bytes(n.bytesUp) + "</td>" +
    "<td>" + esc(n.ageSec === null ? "-" : n.ageSec + " s ago") + "</td></tr>").join("");
}
function drawChart(samples) {
  const svg = $("chart");
  const W = 760, H = 200, L = 70, B = 20;
  if (samples.length < 2) { svg.innerHTML = '<text x="10" y="20" fill="#777">collecting samples…</text>'; return; }
  const t0 = samples[0].t, t1 = samples[samples.length - 1].t;
  const max = Math.max(1, ...samples.map((s) => Math.max(s.fromPublisher, s.fromPeers)));
  const x = (t) => L + ((W - L - 10) * (t - t0)) / Math.max(1, t1 - t0);
  const y = (v) => H - B - ((H - B - 10) * v) / max;
  const line = (k, color) => '<polyline fill="none" stroke-width="2" stroke="' + color + '" points="' + samples.map((s) => x(s.t).toFixed(1) + "," + y(s[k]).toFixed(1)).join(" ") + '"/>';
  svg.innerHTML = '<line x1="' + L + '" y1="' + (H - B) + '" x2="' + (W - 10) + '" y2="' + (H - B) + '" stroke="#999"/>' +
    '<text x="4" y="14" font-size="11" fill="#555">' + bytes(max) + '</text><text x="4" y="' + (H - B) + '" font-size="11" fill="#555">0</text>' +
    '<text x="' + L + '" y="' + (H - 4) + '" font-size="11" fill="#555">' + new Date(t0).toLocaleTimeString() + '</text>' +
    '<text x="' + (W - 70) + '" y="' + (H - 4) + '" font-size="11" fill="#555">' + new Date(t1).toLocaleTimeString() + '</text>' +
    line("fromPublisher", "#1565c0") + line("fromPeers", "#2f7d32");
}
function drawDrift(records) {
  if (records.length === 0) { $("drift").textContent = "none"; return; }
  $("drift").className = "";
  $("drift").innerHTML = records.map((r) => "<h3>" + esc(r.id) + " — release " + r.version + (r.pulled ? " (pulled)" : " (not pulled yet)") + "</h3>" +
    r.paths.map((p) => "<div><b>" + p.letter + "</b> " + esc(p.path) + (p.binary ? " (binary)" : "") + "</div>" +
      (p.diff ? "<pre>" + p.diff.split("\\n").map((l) => '<span class="' + (l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : "") + '">' + esc(l) + "</span>").join("\\n") + "</pre>" : "")).join("")).join("");
}
async function refresh() {
  try {
    const [fleet, history, drift] = await Promise.all([get("api/fleet"), get("api/history"), get("api/drift")]);
    drawFleet(fleet);
    drawChart(history);
    drawDrift(drift);
  } catch (err) {
    $("summary").textContent = "cannot reach the node: " + err.message;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
