/// <reference lib="dom" />
/**
 * Hand-drawn SVG charts: line/area time series, histograms and the task Gantt chart.
 * Every chart has a title, labelled axes with units and native hover tooltips.
 */
import type { GanttData } from "../../database/queries/types.js";
import { clock, h, s, svgTitle, bytes } from "./dom.js";
import { stateColor, STATE_ORDER } from "./colors.js";

export interface Margin {
  top: number;
  right: number;
  bottom: number;
  left: number;
}
const M: Margin = { top: 34, right: 24, bottom: 48, left: 70 };

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const norm = raw / mag;
  const step = norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 2.5 ? 2.5 : norm <= 5 ? 5 : 10;
  return step * mag;
}

/** The smallest "nice" tick value ≥ v, so the top of the axis has a label and no bar overflows. */
export function niceMax(v: number, count = 5): number {
  if (!(v > 0)) return 1;
  const step = niceStep(v, count);
  return Math.ceil(v / step - 1e-9) * step;
}

export function ticks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, count);
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map(
  (x) => x * 1000,
);

function timeTicks(lo: number, hi: number, count = 7): number[] {
  const raw = (hi - lo) / count;
  const step = TIME_STEPS.find((x) => x >= raw) ?? Math.ceil(raw / 86400000) * 86400000;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(v);
  return out;
}

export function fmtNum(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  if (a >= 100 || v === Math.round(v)) return String(Math.round(v));
  return String(+v.toPrecision(a < 1 ? 2 : 3));
}

interface Frame {
  svg: SVGSVGElement;
  plot: SVGGElement;
  w: number;
  h: number;
  x: (v: number) => number;
  y: (v: number) => number;
}

function frame(opts: {
  title: string;
  xLabel: string;
  yLabel: string;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  xTime?: boolean;
  xFmt?: (v: number) => string;
  height?: number;
  width?: number;
  yTicks?: boolean;
}): Frame {
  const W = opts.width ?? 960;
  const H = opts.height ?? 320;
  const w = W - M.left - M.right;
  const hh = H - M.top - M.bottom;
  const xs = opts.x1 > opts.x0 ? opts.x1 - opts.x0 : 1;
  const ys = opts.y1 > opts.y0 ? opts.y1 - opts.y0 : 1;
  const x = (v: number): number => M.left + ((v - opts.x0) / xs) * w;
  const y = (v: number): number => M.top + hh - ((v - opts.y0) / ys) * hh;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": opts.title });
  svg.append(s("text", { x: M.left, y: 20, class: "chart-title" }, opts.title));
  const axes = s("g", { class: "axes" });
  // y grid and labels
  if (opts.yTicks !== false) {
    for (const t of ticks(opts.y0, opts.y1, 5)) {
      axes.append(s("line", { x1: M.left, x2: M.left + w, y1: y(t), y2: y(t), class: "gridline" }));
      axes.append(s("text", { x: M.left - 8, y: y(t) + 4, class: "tick", "text-anchor": "end" }, fmtNum(t)));
    }
  }
  const xt = opts.xTime ? timeTicks(opts.x0, opts.x1) : ticks(opts.x0, opts.x1, 8);
  const fmt = opts.xFmt ?? (opts.xTime ? (v: number) => clock(v) : fmtNum);
  for (const t of xt) {
    axes.append(s("line", { x1: x(t), x2: x(t), y1: M.top + hh, y2: M.top + hh + 5, class: "axis" }));
    axes.append(s("text", { x: x(t), y: M.top + hh + 18, class: "tick", "text-anchor": "middle" }, fmt(t)));
  }
  axes.append(s("line", { x1: M.left, x2: M.left + w, y1: M.top + hh, y2: M.top + hh, class: "axis" }));
  axes.append(s("line", { x1: M.left, x2: M.left, y1: M.top, y2: M.top + hh, class: "axis" }));
  axes.append(s("text", { x: M.left + w / 2, y: H - 8, class: "axis-label", "text-anchor": "middle" }, opts.xLabel));
  axes.append(
    s(
      "text",
      {
        x: 16,
        y: M.top + hh / 2,
        class: "axis-label",
        "text-anchor": "middle",
        transform: `rotate(-90 16 ${M.top + hh / 2})`,
      },
      opts.yLabel,
    ),
  );
  svg.append(axes);
  const plot = s("g", { class: "plot" });
  svg.append(plot);
  return { svg, plot, w, h: hh, x, y };
}

export function legend(items: { name: string; color: string; dashed?: boolean }[]): HTMLElement {
  return h(
    "div",
    { class: "legend" },
    ...items.map((it) =>
      h(
        "span",
        { class: "legend-item" },
        h("span", {
          class: it.dashed ? "swatch dashed" : "swatch",
          style: `background:${it.color};border-color:${it.color}`,
        }),
        it.name,
      ),
    ),
  );
}

export interface Series {
  name: string;
  color: string;
  values: number[];
  dashed?: boolean;
  fill?: boolean;
}

/** A time series chart over equal buckets starting at startMs. */
export function timeChart(opts: {
  title: string;
  yLabel: string;
  startMs: number;
  bucketS: number;
  series: Series[];
  yFmt?: (v: number) => string;
}): HTMLElement {
  const n = Math.max(0, ...opts.series.map((x) => x.values.length));
  const wrap = h("figure", { class: "chart-box" });
  if (n === 0) {
    wrap.append(h("figcaption", {}, opts.title), h("p", { class: "empty" }, "No data for this chart."));
    return wrap;
  }
  const step = opts.bucketS * 1000;
  const x0 = opts.startMs;
  const x1 = opts.startMs + Math.max(1, n) * step;
  let ymax = 0;
  for (const se of opts.series) for (const v of se.values) if (v > ymax) ymax = v;
  const f = frame({
    title: opts.title,
    xLabel: `Time (bucket ${opts.bucketS} s)`,
    yLabel: opts.yLabel,
    x0,
    x1,
    y0: 0,
    y1: niceMax(ymax * 1.05),
    xTime: true,
  });
  for (const se of opts.series) {
    if (se.values.length === 0) continue;
    const pts: string[] = [];
    se.values.forEach((v, i) => {
      pts.push(`${f.x(x0 + i * step).toFixed(1)},${f.y(v).toFixed(1)}`);
      pts.push(`${f.x(x0 + (i + 1) * step).toFixed(1)},${f.y(v).toFixed(1)}`);
    });
    if (se.fill) {
      f.plot.append(
        s("polygon", {
          points: `${f.x(x0)},${f.y(0)} ${pts.join(" ")} ${f.x(x0 + se.values.length * step)},${f.y(0)}`,
          fill: se.color,
          "fill-opacity": 0.18,
          stroke: "none",
        }),
      );
    }
    f.plot.append(
      s("polyline", {
        points: pts.join(" "),
        fill: "none",
        stroke: se.color,
        "stroke-width": 2,
        "stroke-dasharray": se.dashed ? "6 4" : undefined,
      }),
    );
  }
  // Hover targets: one transparent column per bucket listing every series' value.
  const hover = s("g", { class: "hover" });
  const fmt = opts.yFmt ?? fmtNum;
  const cols = Math.min(n, 400);
  const per = Math.ceil(n / cols);
  for (let i = 0; i < n; i += per) {
    const lines = opts.series.map((se) => `${se.name}: ${fmt(se.values[i] ?? 0)}`);
    const r = s("rect", {
      x: f.x(x0 + i * step),
      y: M.top,
      width: Math.max(1, f.x(x0 + (i + per) * step) - f.x(x0 + i * step)),
      height: f.h,
      fill: "transparent",
    });
    r.append(svgTitle(`${clock(x0 + i * step)}\n${lines.join("\n")}`));
    hover.append(r);
  }
  f.svg.append(hover);
  wrap.append(f.svg, legend(opts.series));
  return wrap;
}

/** A histogram: bars at bin lower edges, y = number of tasks. */
export function histogramChart(opts: {
  title: string;
  xLabel: string;
  edges: number[];
  counts: number[];
  xFmt?: (v: number) => string;
  color?: string;
  width?: number;
}): HTMLElement {
  const wrap = h("figure", { class: "chart-box" });
  if (opts.counts.length === 0) {
    wrap.append(h("figcaption", {}, opts.title), h("p", { class: "empty" }, "No resource samples for this chart."));
    return wrap;
  }
  const n = opts.counts.length;
  const width = n > 1 ? opts.edges[1]! - opts.edges[0]! : 1;
  const x0 = opts.edges[0]!;
  const x1 = x0 + width * n;
  const ymax = Math.max(...opts.counts);
  const fmt = opts.xFmt ?? fmtNum;
  const f = frame({
    title: opts.title,
    xLabel: opts.xLabel,
    yLabel: "Tasks",
    x0,
    x1,
    y0: 0,
    y1: niceMax(ymax * 1.05),
    xFmt: fmt,
    height: 280,
    width: opts.width ?? 960,
  });
  opts.counts.forEach((c, i) => {
    const xa = f.x(x0 + i * width);
    const xb = f.x(x0 + (i + 1) * width);
    const r = s("rect", {
      x: xa + 1,
      y: f.y(c),
      width: Math.max(1, xb - xa - 2),
      height: c > 0 ? Math.max(2, f.y(0) - f.y(c)) : 0,
      y2: undefined,
      fill: opts.color ?? "#636efa",
      class: "bar",
    });
    r.append(svgTitle(`${fmt(x0 + i * width)} – ${fmt(x0 + (i + 1) * width)}: ${c} task(s)`));
    f.plot.append(r);
  });
  wrap.append(f.svg);
  return wrap;
}

export const bytesFmt = (v: number): string => bytes(v);

/** A task's row of the Gantt chart, as the API sends it. */
export type GanttRow = GanttData["rows"][number];

/** Task Gantt chart: one row per (sampled) task, one bar per state interval, coloured like Parsl. */
export function ganttChart(opts: { title: string; rows: GanttRow[]; href: (taskId: number) => string }): HTMLElement {
  const wrap = h("figure", { class: "chart-box" });
  if (opts.rows.length === 0) {
    wrap.append(h("figcaption", {}, opts.title), h("p", { class: "empty" }, "No tasks in this range."));
    return wrap;
  }
  let x0 = Infinity;
  let x1 = -Infinity;
  const seen = new Set<string>();
  for (const r of opts.rows)
    for (const [st, a, b] of r.segs) {
      x0 = Math.min(x0, a);
      x1 = Math.max(x1, b);
      seen.add(st);
    }
  if (!Number.isFinite(x0)) {
    x0 = 0;
    x1 = 1;
  }
  if (x1 <= x0) x1 = x0 + 1000;
  const rowH = opts.rows.length > 150 ? 2 : opts.rows.length > 60 ? 4 : 10;
  const height = Math.max(260, Math.min(900, opts.rows.length * rowH + M.top + M.bottom));
  const f = frame({
    title: opts.title,
    xLabel: "Time",
    yLabel: "Task (id)",
    x0,
    x1,
    y0: 0,
    y1: opts.rows.length,
    xTime: true,
    height,
    yTicks: false,
  });
  const bandH = f.h / opts.rows.length;
  // Lowest task id at the top, as in Parsl's chart.
  const rows = [...opts.rows].sort((a, b) => a.task_id - b.task_id);
  const labelEvery = Math.max(1, Math.ceil(rows.length / 12));
  rows.forEach((r, i) => {
    const yTop = f.y(rows.length - i);
    const link = s("a", { href: opts.href(r.task_id) });
    for (const [st, a, b] of r.segs) {
      const rect = s("rect", {
        x: f.x(a),
        y: yTop + bandH * 0.1,
        width: Math.max(0.8, f.x(b) - f.x(a)),
        height: Math.max(1, bandH * 0.8),
        fill: stateColor(st),
      });
      rect.append(
        svgTitle(`task ${r.task_id} (${r.app})\n${st}: ${clock(a)} → ${clock(b)} (${((b - a) / 1000).toFixed(3)} s)`),
      );
      link.append(rect);
    }
    f.plot.append(link);
    if (i % labelEvery === 0)
      f.svg.append(
        s("text", { x: M.left - 8, y: yTop + bandH / 2 + 4, class: "tick", "text-anchor": "end" }, String(r.task_id)),
      );
  });
  wrap.append(
    f.svg,
    legend(STATE_ORDER.filter((st) => seen.has(st)).map((st) => ({ name: st, color: stateColor(st) }))),
  );
  return wrap;
}

/** A horizontal stacked bar of state counts (used in summaries). */
export function stateBar(counts: Record<string, number>): HTMLElement {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const bar = h("div", { class: "state-bar", role: "img", "aria-label": "tasks per state" });
  const order = [...STATE_ORDER, ...Object.keys(counts).filter((k) => !STATE_ORDER.includes(k))];
  for (const st of order) {
    const n = counts[st];
    if (!n) continue;
    bar.append(h("span", { style: `width:${(100 * n) / total}%;background:${stateColor(st)}`, title: `${st}: ${n}` }));
  }
  return bar;
}
