/**
 * The report as ONE self-contained HTML file: inline CSS, inline SVG charts (svg.ts) and a few
 * lines of inline JavaScript (sortable tables). A Content-Security-Policy forbids every fetch,
 * so the page opens from disk and makes no request anywhere, even if a stored value tried to.
 * Every stored value is escaped.
 */
import { formatDuration } from "../dataflow/runSummary.js";
import type { FailureDetail } from "../database/queries/index.js";
import type { ReportData } from "./data.js";
import { barList, dagChart, esc, ganttChart, histogramChart, short, timeChart, type SeriesIn } from "./svg.js";
import { paletteColor, stateColor } from "../visualizer/client/colors.js";

/** Apps drawn as their own series in the stacked timeline; the rest are summed as "other apps". */
const TIMELINE_APPS = 10;
const STDERR_SHOWN = 2_000;

const CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

const CSS = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1f2d3d;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}header .sub{opacity:.8;font-size:13px}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid #ddd;padding:6px 24px;z-index:2}nav a{margin-right:16px;color:#1f5fa8;text-decoration:none}
main{padding:8px 24px 40px;max-width:1200px}section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:12px 16px;margin:14px 0}
h2{font-size:17px;margin:4px 0 10px}h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{background:#f3f5f7;cursor:pointer;user-select:none;white-space:nowrap}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.kv td:first-child{color:#666;white-space:nowrap}.status{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600}
.status.completed{background:#2a8a2a}.status.failed,.status.crashed{background:#c00}.status.running{background:#1f5fa8}.status.interrupted,.status.unknown{background:#a66c00}
.counts span{display:inline-block;margin-right:12px}.counts i,.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px;vertical-align:middle}
.legend{font-size:12px;margin:2px 0 10px}.legend span{margin-right:12px;white-space:nowrap}
svg.chart{max-width:100%;height:auto;font-size:10px;fill:#444}svg .grid{stroke:#eee}svg .cap{stroke:#444;stroke-dasharray:5 3}
svg.dag .box{fill:#fff;stroke:#888}svg.dag .name{font-weight:600;font-size:11px}svg.dag .edge{fill:#666}
.scroll{overflow-x:auto}.note,.empty{color:#666;font-size:12px}.figs{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-size:12px;color:#444}
details{border-top:1px solid #eee;padding:6px 0}summary{cursor:pointer}pre{background:#f6f6f6;padding:6px;overflow-x:auto;max-height:240px;font-size:12px;white-space:pre-wrap}
`;

// Click a header to sort its table (numbers by value); the only script of the page.
const JS = `
document.querySelectorAll("table.sortable th").forEach(function (th, i) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var col = Array.prototype.indexOf.call(th.parentNode.children, th), dir = th.dataset.dir === "asc" ? -1 : 1;
    th.parentNode.querySelectorAll("th").forEach(function (h) { delete h.dataset.dir; });
    th.dataset.dir = dir === 1 ? "asc" : "desc";
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.v !== undefined ? a.cells[col].dataset.v : a.cells[col].textContent;
      var y = b.cells[col].dataset.v !== undefined ? b.cells[col].dataset.v : b.cells[col].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      return dir * (!isNaN(nx) && !isNaN(ny) ? nx - ny : String(x).localeCompare(String(y)));
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
document.body.dataset.ready = "1";
`;

const num = (n: number): string => n.toLocaleString("en-US");
const secs = (s: number | null): string =>
  s === null ? "" : s < 10 ? s.toFixed(3) : s < 1000 ? s.toFixed(1) : num(Math.round(s));
function bytes(b: number | null): string {
  if (b === null) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = b;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${u[i]}`;
}
/** A numeric cell: shown text, sorted by value. */
const ncell = (v: number | null, text: string): string =>
  `<td class="n"${v === null ? "" : ` data-v="${v}"`}>${esc(text)}</td>`;

function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${esc(title)}</h2>${body}</section>`;
}

function summarySection(d: ReportData): string {
  const w = d.summary.workflow;
  const sc = d.summary.state_counts;
  const finals = ["exec_done", "memo_done", "failed", "dep_fail"];
  const other = Object.entries(sc)
    .filter(([s]) => !finals.includes(s))
    .reduce((a, [, n]) => a + n, 0);
  const counts = [...finals.map((s) => [s, sc[s] ?? 0] as const), ["not finished", other] as const]
    .map(
      ([s, n]) =>
        `<span class="count" data-state="${esc(s)}"><i style="background:${stateColor(s)}"></i>${esc(s)} <b>${num(n)}</b></span>`,
    )
    .join("");
  const cumulative = d.stats.apps.reduce((a, s) => a + s.total_s, 0);
  const tries = d.stats.apps.reduce((a, s) => a + s.tries, 0);
  const rows: [string, string][] = [
    ["workflow", `${w.workflow_name ?? "(unnamed)"}${w.workflow_version ? ` · version ${w.workflow_version}` : ""}`],
    ["run id", w.run_id],
    ["began", w.time_began],
    ["completed", w.time_completed ?? "—"],
    ["wall time", w.runtime_s === null ? "—" : formatDuration(w.runtime_s)],
    [
      "cumulative run time",
      `${formatDuration(cumulative)} over ${num(Math.round(tries))} tries${d.stats.sample_step > 1 ? " (estimated)" : ""}`,
    ],
    ["host · user", `${w.host} · ${w.user}`],
    ["run directory", w.rundir],
    ["database", d.database],
  ];
  const sampled =
    d.stats.sample_step > 1 || d.resources.sample_step > 1
      ? `<p class="note">This run is large: durations, the timeline and resource charts were estimated from every ${d.stats.sample_step}th task; task counts are exact.</p>`
      : "";
  return section(
    "summary",
    "Summary",
    `<p><span class="status ${esc(w.status)}" title="${esc(w.status_reason)}">${esc(w.status)}</span> <span class="note">${esc(w.status_reason)}</span></p>` +
      `<p class="counts"><b>${num(d.summary.task_count)}</b> tasks: ${counts}</p>` +
      `<table class="kv">${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("")}</table>${sampled}`,
  );
}

function appsSection(d: ReportData): string {
  const stats = new Map(d.stats.apps.map((a) => [a.app, a]));
  const head = [
    "app",
    "tasks",
    "exec_done",
    "memo_done",
    "failed",
    "dep_fail",
    "other",
    "tries",
    "min s",
    "mean s",
    "p50 s",
    "p95 s",
    "max s",
    "total run s",
    "peak memory",
    "mean CPU s",
    "max CPU s",
  ];
  const body = d.dag.apps
    .map((a) => {
      const s = stats.get(a.name);
      const st = (k: string): number => a.states[k] ?? 0;
      const other = a.count - st("exec_done") - st("memo_done") - st("failed") - st("dep_fail");
      return (
        `<tr data-app="${esc(a.name)}"><td>${esc(a.name)}</td>${ncell(a.count, num(a.count))}${ncell(st("exec_done"), num(st("exec_done")))}` +
        `${ncell(st("memo_done"), num(st("memo_done")))}${ncell(st("failed"), num(st("failed")))}${ncell(st("dep_fail"), num(st("dep_fail")))}${ncell(other, num(other))}` +
        `${ncell(s?.tries ?? null, s ? num(Math.round(s.tries)) : "")}${ncell(s?.min_s ?? null, secs(s?.min_s ?? null))}${ncell(s?.mean_s ?? null, secs(s?.mean_s ?? null))}` +
        `${ncell(s?.p50_s ?? null, secs(s?.p50_s ?? null))}${ncell(s?.p95_s ?? null, secs(s?.p95_s ?? null))}${ncell(s?.max_s ?? null, secs(s?.max_s ?? null))}` +
        `${ncell(s?.total_s ?? null, s ? secs(s.total_s) : "")}${ncell(s?.peak_rss ?? null, bytes(s?.peak_rss ?? null))}` +
        `${ncell(s?.mean_cpu_s ?? null, secs(s?.mean_cpu_s ?? null))}${ncell(s?.max_cpu_s ?? null, secs(s?.max_cpu_s ?? null))}</tr>`
      );
    })
    .join("");
  const bars = [...d.stats.apps]
    .filter((a) => a.total_s > 0)
    .sort((a, b) => b.total_s - a.total_s)
    .slice(0, 20)
    .map((a) => ({ label: a.app, value: a.total_s, text: formatDuration(a.total_s) }));
  return section(
    "apps",
    "Apps",
    `<div class="scroll"><table class="sortable apps"><thead><tr>${head.map((h, i) => `<th${i > 0 ? ' class="n"' : ""}>${esc(h)}</th>`).join("")}</tr></thead><tbody>${body}</tbody></table></div>` +
      `<p class="note">Run time of a try: from running (else launched) to returned. Peak memory and CPU time come from resource monitoring, where it was on.</p>` +
      `<h3>Cumulative run time per app</h3>${barList(bars)}`,
  );
}

function timelineSection(d: ReportData): string {
  const t = d.tries;
  const perApp = t.series.filter((s) => s.name !== "All");
  const area = (s: { values: number[] }): number => s.values.reduce((a, b) => a + b, 0);
  const ranked = [...perApp].sort((a, b) => area(b) - area(a));
  const series: SeriesIn[] = ranked
    .slice(0, TIMELINE_APPS)
    .map((s, i) => ({ name: s.name, values: s.values, color: paletteColor(i) }));
  if (ranked.length > TIMELINE_APPS) {
    const rest = ranked.slice(TIMELINE_APPS);
    series.push({
      name: `${rest.length} other apps`,
      values: rest[0]!.values.map((_, i) => rest.reduce((a, s) => a + (s.values[i] ?? 0), 0)),
      color: "#999",
    });
  }
  const workers = d.resources.workers.total_workers;
  const g = d.gantt;
  const ganttNote =
    g.step > 1
      ? `Every ${num(g.step)}th task of ${num(g.task_max - g.task_min + 1)} (ids ${num(g.task_min)}–${num(g.task_max)}), in id order.`
      : `Every task, in id order.`;
  return section(
    "timeline",
    "Timeline",
    `<h3>Tries running per app (mean per ${t.bucket_s} s bucket)</h3>` +
      timeChart({
        startMs: t.start_ms,
        bucketS: t.bucket_s,
        series,
        stacked: true,
        yLabel: "tries running",
        cap: workers > 0 ? { value: workers, label: "workers" } : null,
      }) +
      `<h3>Tasks by state over time</h3><p class="note">${ganttNote}</p>${ganttChart(g)}`,
  );
}

function resourcesSection(d: ReportData): string {
  const r = d.resources;
  if (!r.has_resources)
    return section(
      "resources",
      "Resources",
      `<p class="empty">No resource monitoring rows for this run (MonitoringHub resourceMonitoringInterval 0, or Parsl's monitoring off).</p>`,
    );
  const nodes = r.nodes
    .slice(0, 30)
    .map(
      (n) =>
        `<tr><td>${esc(n["hostname"])}</td><td>${esc(n["block_id"])}</td>${ncell(Number(n["cpu_count"] ?? 0), String(n["cpu_count"] ?? ""))}` +
        `${ncell(Number(n["total_memory"] ?? 0), bytes(n["total_memory"] === null ? null : Number(n["total_memory"])))}${ncell(Number(n["worker_count"] ?? 0), String(n["worker_count"] ?? ""))}<td>${esc(n["first_seen"])}</td><td>${esc(n["last_seen"])}</td></tr>`,
    )
    .join("");
  return section(
    "resources",
    "Resources",
    `<h3>CPU cores in use</h3>${timeChart({ startMs: r.cpu.start_ms, bucketS: r.cpu.bucket_s, series: r.cpu.series, yLabel: "cores", cap: { value: r.cpu.total_cores, label: "cores" } })}` +
      `<h3>Resident memory in use (GiB)</h3>${timeChart({ startMs: r.memory.start_ms, bucketS: r.memory.bucket_s, series: r.memory.series, yLabel: "GiB", cap: { value: r.memory.total_memory_gib, label: "memory" } })}` +
      `<div class="figs">${histogramChart(r.cpu_time_max, (v) => `${short(v)} s`)}${histogramChart(r.memory_max, (v) => bytes(v))}${histogramChart(r.memory_avg, (v) => bytes(v))}</div>` +
      (nodes
        ? `<h3>Nodes</h3><div class="scroll"><table class="sortable"><thead><tr><th>host</th><th>block</th><th class="n">cores</th><th class="n">memory</th><th class="n">workers</th><th>first seen</th><th>last seen</th></tr></thead><tbody>${nodes}</tbody></table></div>`
        : ""),
  );
}

function failureBlock(f: FailureDetail, open: boolean): string {
  const last = f.tries[f.tries.length - 1];
  const headline = last?.error ?? "(no error recorded)";
  const tries = f.tries
    .map(
      (t) =>
        `<tr><td class="n">${t.try_id}</td><td>${esc(t.hostname ?? "")}</td><td>${esc(t.block_id ?? "")}</td>` +
        `<td class="n">${t.exit_code ?? ""}</td><td>${esc(t.error_type ?? "")}</td><td><pre>${esc(t.error ?? "")}</pre>` +
        `${t.stderr_tail ? `<div class="note">stderr (tail)</div><pre class="stderr">${esc(t.stderr_tail.slice(-STDERR_SHOWN))}</pre>` : ""}</td></tr>`,
    )
    .join("");
  return (
    `<details class="failure" data-task="${f.task_id}"${open ? " open" : ""}><summary>task <b>${f.task_id}</b> (${esc(f.app)}): ${esc(headline.split("\n")[0]!.slice(0, 200))}</summary>` +
    (f.args ? `<div class="note">args: ${esc(f.args.slice(0, 500))}</div>` : "") +
    `<table><thead><tr><th>try</th><th>host</th><th>block</th><th>exit code</th><th>error type</th><th>error</th></tr></thead><tbody>${tries}</tbody></table></details>`
  );
}

function failuresSection(d: ReportData): string {
  const f = d.failures;
  if (f.total === 0 && f.dep_fail === 0) return section("failures", "Failures", `<p class="empty">No task failed.</p>`);
  const more =
    f.total > f.tasks.length
      ? ` The first ${f.tasks.length} are listed (by task id); <code>parsl-ts analyze</code> lists all.`
      : "";
  return section(
    "failures",
    "Failures",
    `<p><b>${num(f.total)}</b> failed, <b>${num(f.dep_fail)}</b> not run because a dependency failed (dep_fail).${more}</p>` +
      f.tasks.map((t, i) => failureBlock(t, i < 5)).join(""),
  );
}

function dagSection(d: ReportData): string {
  const note =
    d.dag.edges_from_tasks > 0
      ? `<p class="note">Edge counts from the first ${num(d.dag.edges_from_tasks)} tasks with dependencies.</p>`
      : "";
  return section("dag", "Dependencies by app", dagChart(d.dag) + note);
}

export function renderReport(d: ReportData): string {
  const w = d.summary.workflow;
  const title = `${w.workflow_name ?? "run"} ${w.run_id.slice(0, 8)} — parsl-ts report`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="parsl-ts report">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body data-run="${esc(w.run_id)}">
<header><h1>${esc(w.workflow_name ?? "(unnamed workflow)")} <span class="status ${esc(w.status)}">${esc(w.status)}</span></h1>
<div class="sub">run ${esc(w.run_id)} · began ${esc(w.time_began)} · report generated ${esc(d.generated_at)}</div></header>
<nav><a href="#summary">Summary</a><a href="#apps">Apps</a><a href="#timeline">Timeline</a><a href="#resources">Resources</a><a href="#failures">Failures</a><a href="#dag">Dependencies</a></nav>
<main>
${summarySection(d)}
${appsSection(d)}
${timelineSection(d)}
${resourcesSection(d)}
${failuresSection(d)}
${dagSection(d)}
</main>
<script>${JS}</script>
</body></html>
`;
}
