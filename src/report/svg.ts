/**
 * Inline SVG charts for the HTML report, drawn in Node (the report runs no chart library and
 * loads nothing): time series (lines or stacked areas), histograms, the sampled Gantt chart and
 * the DAG by app. Every input is already aggregated (≤ 400 buckets, ≤ a few hundred rows), so the
 * output has a bounded size whatever the run's. Values carry <title> tooltips.
 */
import { msToNaive } from "../database/queries/time.js";
import type { DagSummary, GanttData, Histogram } from "../database/queries/types.js";
import { paletteColor, stateColor } from "../visualizer/client/colors.js";

export function esc(s: unknown): string {
  return String(s ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}

/** Short numbers for axes: 1.2k, 3.4M, 0.25. */
export function short(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return String(+v.toFixed(2));
}

const f1 = (x: number): string => (Math.round(x * 10) / 10).toString();
const clock = (ms: number): string => msToNaive(ms).slice(11, 19);

/** Round axis maximum and step for `max`. */
function niceMax(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: step * Math.ceil(max / step), step };
}

export interface SeriesIn {
  name: string;
  values: number[];
  color?: string;
}

export interface TimeChart {
  startMs: number;
  bucketS: number;
  series: SeriesIn[];
  stacked?: boolean;
  yLabel: string;
  /** A dashed capacity line (e.g. total workers). */
  cap?: { value: number; label: string } | null;
  width?: number;
  height?: number;
}

const M = { l: 52, r: 12, t: 10, b: 28 };

function axes(
  w: number,
  h: number,
  top: number,
  step: number,
  startMs: number,
  spanMs: number,
  yLabel: string,
): string {
  const ih = h - M.t - M.b;
  const iw = w - M.l - M.r;
  let out = "";
  for (let v = 0; v <= top + step / 2; v += step) {
    const y = M.t + ih - (v / top) * ih;
    out += `<line x1="${M.l}" x2="${w - M.r}" y1="${f1(y)}" y2="${f1(y)}" class="grid"/><text x="${M.l - 4}" y="${f1(y + 3)}" text-anchor="end">${short(v)}</text>`;
  }
  for (let i = 0; i <= 4; i++) {
    const x = M.l + (iw * i) / 4;
    out += `<text x="${f1(x)}" y="${h - 10}" text-anchor="${i === 0 ? "start" : i === 4 ? "end" : "middle"}">${clock(startMs + (spanMs * i) / 4)}</text>`;
  }
  out += `<text x="12" y="${M.t + ih / 2}" transform="rotate(-90 12 ${M.t + ih / 2})" text-anchor="middle">${esc(yLabel)}</text>`;
  return out;
}

function legend(series: SeriesIn[]): string {
  return `<div class="legend">${series.map((s) => `<span><i style="background:${s.color}"></i>${esc(s.name)}</span>`).join("")}</div>`;
}

/** A time-series chart (lines, or stacked areas) with its legend, as HTML. */
export function timeChart(c: TimeChart): string {
  const w = c.width ?? 860;
  const h = c.height ?? 220;
  const series = c.series.map((s, i) => ({ ...s, color: s.color ?? paletteColor(i) }));
  const n = Math.max(0, ...series.map((s) => s.values.length));
  if (n === 0) return `<p class="empty">No data.</p>`;
  const stackedTop = new Array<number>(n).fill(0);
  const layers: { s: SeriesIn; lo: number[]; hi: number[] }[] = [];
  for (const s of series) {
    const lo = c.stacked ? [...stackedTop] : new Array<number>(n).fill(0);
    const hi = s.values.map((v, i) => (c.stacked ? lo[i]! + v : v));
    if (c.stacked)
      hi.forEach((v, i) => {
        stackedTop[i] = v;
      });
    layers.push({ s, lo, hi: Array.from({ length: n }, (_, i) => hi[i] ?? lo[i]!) });
  }
  const max = Math.max(c.cap?.value ?? 0, ...layers.flatMap((l) => l.hi));
  const { top, step } = niceMax(max);
  const iw = w - M.l - M.r;
  const ih = h - M.t - M.b;
  const spanMs = n * c.bucketS * 1000;
  const X = (i: number): string => f1(M.l + (iw * i) / n);
  const Y = (v: number): string => f1(M.t + ih - (Math.min(v, top) / top) * ih);
  let body = axes(w, h, top, step, c.startMs, spanMs, c.yLabel);
  for (const l of layers) {
    // Steps: each bucket is a flat segment over its width.
    let up = "";
    for (let i = 0; i < n; i++) up += `${i === 0 ? "M" : "L"}${X(i)},${Y(l.hi[i]!)}L${X(i + 1)},${Y(l.hi[i]!)}`;
    if (c.stacked) {
      let down = "";
      for (let i = n - 1; i >= 0; i--) down += `L${X(i + 1)},${Y(l.lo[i]!)}L${X(i)},${Y(l.lo[i]!)}`;
      body += `<path d="${up}${down}Z" fill="${l.s.color}" fill-opacity="0.75" stroke="none"><title>${esc(l.s.name)}</title></path>`;
    } else {
      body += `<path d="${up}" fill="none" stroke="${l.s.color}" stroke-width="1.5"><title>${esc(l.s.name)}</title></path>`;
    }
  }
  if (c.cap && c.cap.value > 0) {
    body += `<line x1="${M.l}" x2="${w - M.r}" y1="${Y(c.cap.value)}" y2="${Y(c.cap.value)}" class="cap"><title>${esc(c.cap.label)}: ${short(c.cap.value)}</title></line>`;
  }
  return (
    `<svg class="chart" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img">${body}</svg>` +
    legend(
      c.cap && c.cap.value > 0
        ? [...series, { name: `${c.cap.label} (${short(c.cap.value)})`, values: [], color: "#444" }]
        : series,
    )
  );
}

/** A histogram as bars. */
export function histogramChart(
  hg: Histogram,
  format: (v: number) => string = short,
  width = 420,
  height = 200,
): string {
  if (hg.counts.length === 0) return `<p class="empty">No data.</p>`;
  const n = hg.counts.length;
  const { top, step } = niceMax(Math.max(...hg.counts));
  const iw = width - M.l - M.r;
  const ih = height - M.t - M.b;
  const binW = n > 1 ? hg.edges[1]! - hg.edges[0]! : 1;
  let body = "";
  for (let v = 0; v <= top + step / 2; v += step) {
    const y = M.t + ih - (v / top) * ih;
    body += `<line x1="${M.l}" x2="${width - M.r}" y1="${f1(y)}" y2="${f1(y)}" class="grid"/><text x="${M.l - 4}" y="${f1(y + 3)}" text-anchor="end">${short(v)}</text>`;
  }
  hg.counts.forEach((c, i) => {
    const x = M.l + (iw * i) / n;
    const bh = (c / top) * ih;
    const lo = hg.edges[i]!;
    body += `<rect x="${f1(x + 0.5)}" y="${f1(M.t + ih - bh)}" width="${f1(Math.max(1, iw / n - 1))}" height="${f1(bh)}" fill="#636efa"><title>${esc(format(lo))} – ${esc(format(lo + binW))}: ${short(c)}</title></rect>`;
  });
  body += `<text x="${M.l}" y="${height - 10}">${esc(format(hg.edges[0]!))}</text><text x="${width - M.r}" y="${height - 10}" text-anchor="end">${esc(format(hg.edges[n - 1]! + binW))}</text>`;
  body += `<text x="${M.l + iw / 2}" y="${height - 10}" text-anchor="middle">${esc(hg.x_label)}</text>`;
  return `<figure><figcaption>${esc(hg.label)}</figcaption><svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${body}</svg></figure>`;
}

/** Horizontal bars, one per label (e.g. cumulative run time per app). */
export function barList(items: { label: string; value: number; text: string }[], width = 860): string {
  if (items.length === 0) return `<p class="empty">No data.</p>`;
  const max = Math.max(...items.map((i) => i.value), 1e-9);
  const lw = 180;
  const rowH = 18;
  const h = items.length * rowH + 4;
  let body = "";
  items.forEach((it, i) => {
    const y = 2 + i * rowH;
    const bw = ((width - lw - 110) * it.value) / max;
    body +=
      `<text x="${lw - 6}" y="${y + 12}" text-anchor="end">${esc(it.label.length > 28 ? it.label.slice(0, 27) + "…" : it.label)}</text>` +
      `<rect x="${lw}" y="${y + 2}" width="${f1(Math.max(0, bw))}" height="${rowH - 5}" fill="${paletteColor(i)}"><title>${esc(it.label)}: ${esc(it.text)}</title></rect>` +
      `<text x="${f1(lw + bw + 6)}" y="${y + 12}">${esc(it.text)}</text>`;
  });
  return `<svg class="chart" viewBox="0 0 ${width} ${h}" width="${width}" height="${h}" role="img">${body}</svg>`;
}

/** The sampled Gantt chart: one row per shown task, its state segments coloured by state. */
export function ganttChart(g: GanttData, width = 860): string {
  if (g.rows.length === 0) return `<p class="empty">No tasks.</p>`;
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of g.rows)
    for (const [, a, b] of r.segs) {
      if (a < lo) lo = a;
      if (b > hi) hi = b;
    }
  if (!Number.isFinite(lo)) return `<p class="empty">No task has a recorded state.</p>`;
  const span = Math.max(1, hi - lo);
  const rowH = g.rows.length > 150 ? 2 : g.rows.length > 60 ? 4 : 8;
  const iw = width - M.l - M.r;
  const h = M.t + g.rows.length * rowH + M.b;
  let body = "";
  g.rows.forEach((r, i) => {
    const y = M.t + i * rowH;
    for (const [st, a, b] of r.segs) {
      const x = M.l + ((a - lo) / span) * iw;
      const wd = Math.max(0.5, ((b - a) / span) * iw);
      body += `<rect x="${f1(x)}" y="${y}" width="${f1(wd)}" height="${Math.max(1, rowH - (rowH > 2 ? 1 : 0))}" fill="${stateColor(st)}"><title>task ${r.task_id} (${esc(r.app)}) ${esc(st)} ${((b - a) / 1000).toFixed(3)} s</title></rect>`;
    }
  });
  for (let i = 0; i <= 4; i++)
    body += `<text x="${f1(M.l + (iw * i) / 4)}" y="${h - 10}" text-anchor="${i === 0 ? "start" : i === 4 ? "end" : "middle"}">${clock(lo + (span * i) / 4)}</text>`;
  body += `<text x="${M.l - 4}" y="${M.t + 8}" text-anchor="end">${g.rows[0]!.task_id}</text><text x="${M.l - 4}" y="${M.t + g.rows.length * rowH}" text-anchor="end">${g.rows[g.rows.length - 1]!.task_id}</text>`;
  const states = [...new Set(g.rows.flatMap((r) => r.segs.map((s) => s[0])))];
  return (
    `<svg class="chart" viewBox="0 0 ${width} ${h}" width="${width}" height="${h}" role="img">${body}</svg>` +
    legend(states.map((s) => ({ name: s, values: [], color: stateColor(s) })))
  );
}

/** Columns of apps by dependency depth (longest path over app edges; cycles broken). */
export function appLevels(
  apps: readonly string[],
  edges: readonly { from: string; to: string }[],
): Map<string, number> {
  const level = new Map(apps.map((a) => [a, 0]));
  const real = edges.filter((e) => e.from !== e.to && level.has(e.from) && level.has(e.to));
  // Bellman-Ford style relaxation, at most |apps| rounds: a cycle cannot push levels forever.
  for (let round = 0; round < apps.length; round++) {
    let moved = false;
    for (const e of real) {
      const want = level.get(e.from)! + 1;
      if (want > level.get(e.to)! && want < apps.length) {
        level.set(e.to, want);
        moved = true;
      }
    }
    if (!moved) break;
  }
  return level;
}

const STATE_BAR = ["exec_done", "memo_done", "failed", "dep_fail", "running", "launched", "pending"];

/** The DAG by app: a box per app (its task count and a state bar), arrows labelled with edge counts. */
export function dagChart(d: DagSummary, maxApps = 60): string {
  if (d.apps.length === 0) return `<p class="empty">No tasks.</p>`;
  const apps = [...d.apps].sort((a, b) => b.count - a.count).slice(0, maxApps);
  const names = apps.map((a) => a.name);
  const levels = appLevels(names, d.app_edges);
  const cols = new Map<number, string[]>();
  for (const a of names) {
    const l = levels.get(a)!;
    (cols.get(l) ?? cols.set(l, []).get(l)!).push(a);
  }
  const BW = 170,
    BH = 46,
    GX = 70,
    GY = 18;
  const pos = new Map<string, { x: number; y: number }>();
  let maxRows = 0;
  for (const [l, list] of [...cols.entries()].sort((a, b) => a[0] - b[0])) {
    list.sort();
    list.forEach((a, i) => pos.set(a, { x: 10 + l * (BW + GX), y: 10 + i * (BH + GY) }));
    maxRows = Math.max(maxRows, list.length);
  }
  const w = 20 + (Math.max(...cols.keys()) + 1) * (BW + GX) - GX;
  const h = 20 + maxRows * (BH + GY) - GY;
  let body = `<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#777"/></marker></defs>`;
  for (const e of d.app_edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    if (e.from === e.to) {
      body += `<path d="M${a.x + BW - 30},${a.y} c 10,-16 30,-16 24,0" fill="none" stroke="#999" marker-end="url(#arrow)"><title>${esc(e.from)} → ${esc(e.to)}: ${e.count}</title></path>`;
      continue;
    }
    const x1 = a.x + BW,
      y1 = a.y + BH / 2,
      x2 = b.x,
      y2 = b.y + BH / 2;
    const mx = (x1 + x2) / 2;
    body +=
      `<path d="M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}" fill="none" stroke="#999" stroke-width="${f1(1 + Math.min(4, Math.log10(e.count + 1)))}" marker-end="url(#arrow)"><title>${esc(e.from)} → ${esc(e.to)}: ${e.count} dependencies</title></path>` +
      `<text x="${f1(mx)}" y="${f1((y1 + y2) / 2 - 3)}" text-anchor="middle" class="edge">${short(e.count)}</text>`;
  }
  for (const a of apps) {
    const p = pos.get(a.name)!;
    let x = p.x + 6;
    let bar = "";
    const states = [...STATE_BAR, ...Object.keys(a.states).filter((s) => !STATE_BAR.includes(s))];
    for (const s of states) {
      const n = a.states[s] ?? 0;
      if (n === 0) continue;
      const bw = ((BW - 12) * n) / a.count;
      bar += `<rect x="${f1(x)}" y="${p.y + 30}" width="${f1(bw)}" height="9" fill="${stateColor(s)}"><title>${esc(s)}: ${n}</title></rect>`;
      x += bw;
    }
    body +=
      `<g class="app"><rect x="${p.x}" y="${p.y}" width="${BW}" height="${BH}" rx="5" class="box"/>` +
      `<text x="${p.x + 6}" y="${p.y + 15}" class="name">${esc(a.name.length > 24 ? a.name.slice(0, 23) + "…" : a.name)}</text>` +
      `<text x="${p.x + BW - 6}" y="${p.y + 15}" text-anchor="end">${short(a.count)}</text>${bar}<title>${esc(a.name)}: ${a.count} tasks</title></g>`;
  }
  const more =
    d.apps.length > apps.length
      ? `<p class="note">The ${apps.length} largest of ${d.apps.length} apps are shown.</p>`
      : "";
  return `<div class="scroll"><svg class="chart dag" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img">${body}</svg></div>${more}`;
}
