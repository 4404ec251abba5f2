/// <reference lib="dom" />
/**
 * DAG drawings: a layered task graph for a window of tasks (nodes coloured by app or by state)
 * and an aggregated app-level graph (one box per app, edges weighted by dependency count).
 * Layers are longest-path depths; within a layer, nodes are ordered by their parents' mean position.
 */
import type { DagData, DagSummary } from "../../database/queries/types.js";
import { h, s, svgTitle } from "./dom.js";
import { stateColor, STATE_ORDER, paletteColor } from "./colors.js";
import { legend } from "./charts.js";

interface Pos {
  x: number;
  y: number;
}

/** Longest-path layer of every node; edges that would close a cycle are ignored. */
function layers(ids: (number | string)[], edges: [number | string, number | string][]): Map<number | string, number> {
  const preds = new Map<number | string, (number | string)[]>();
  for (const id of ids) preds.set(id, []);
  for (const [a, b] of edges) if (preds.has(a) && preds.has(b) && a !== b) preds.get(b)!.push(a);
  const depth = new Map<number | string, number>();
  const visiting = new Set<number | string>();
  const visit = (id: number | string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    let d = 0;
    for (const p of preds.get(id) ?? []) d = Math.max(d, visit(p) + 1);
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  for (const id of ids) visit(id);
  return depth;
}

/** A task of the DAG window and an app of the aggregated graph, as the API sends them. */
export type DagNode = DagData["window"]["nodes"][number];
export type AppNode = DagSummary["apps"][number];

export function taskDag(opts: {
  nodes: DagNode[];
  edges: [number, number][];
  colorBy: "apps" | "states";
  appColors: Map<string, string>;
  href: (id: number) => string;
}): HTMLElement {
  const wrap = h("figure", { class: "chart-box" });
  if (opts.nodes.length === 0) {
    wrap.append(h("p", { class: "empty" }, "No tasks in this window."));
    return wrap;
  }
  const depth = layers(
    opts.nodes.map((n) => n.id),
    opts.edges,
  );
  const byLayer = new Map<number, DagNode[]>();
  for (const n of opts.nodes) {
    const d = depth.get(n.id) ?? 0;
    if (!byLayer.has(d)) byLayer.set(d, []);
    byLayer.get(d)!.push(n);
  }
  const maxPerRow = 40;
  const colW = 22;
  const rowH = 56;
  const pos = new Map<number, Pos>();
  const parents = new Map<number, number[]>();
  for (const [a, b] of opts.edges) {
    if (!parents.has(b)) parents.set(b, []);
    parents.get(b)!.push(a);
  }
  let row = 0;
  let widest = 1;
  for (const d of [...byLayer.keys()].sort((a, b) => a - b)) {
    const nodes = byLayer.get(d)!;
    // Barycentre ordering: children sit under their parents.
    const key = (n: DagNode): number => {
      const ps = (parents.get(n.id) ?? []).map((p) => pos.get(p)?.x).filter((x): x is number => x !== undefined);
      return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : n.id;
    };
    nodes.sort((a, b) => key(a) - key(b) || a.id - b.id);
    for (let i = 0; i < nodes.length; i += maxPerRow) {
      const chunk = nodes.slice(i, i + maxPerRow);
      widest = Math.max(widest, chunk.length);
      chunk.forEach((n, j) => pos.set(n.id, { x: j, y: row }));
      row++;
    }
  }
  const W = Math.max(600, widest * colW + 80);
  const H = row * rowH + 40;
  // Centre each row.
  const rowCounts = new Map<number, number>();
  for (const p of pos.values()) rowCounts.set(p.y, (rowCounts.get(p.y) ?? 0) + 1);
  const px = (p: Pos): number => W / 2 + (p.x - ((rowCounts.get(p.y) ?? 1) - 1) / 2) * colW;
  const py = (p: Pos): number => 30 + p.y * rowH;
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart dag",
    role: "img",
    "aria-label": "Workflow DAG",
    style: `max-width:${Math.max(W, 600)}px`,
  });
  svg.append(s("text", { x: 10, y: 18, class: "chart-title" }, "Workflow DAG"));
  const edgeG = s("g", { class: "edges" });
  for (const [a, b] of opts.edges) {
    const pa = pos.get(a);
    const pb = pos.get(b);
    if (!pa || !pb) continue;
    const line = s("line", { x1: px(pa), y1: py(pa), x2: px(pb), y2: py(pb), class: "edge" });
    line.append(svgTitle(`Dependency ${a} → ${b}`));
    edgeG.append(line);
  }
  svg.append(edgeG);
  const nodeG = s("g", { class: "nodes" });
  for (const n of opts.nodes) {
    const p = pos.get(n.id)!;
    const fill = opts.colorBy === "states" ? stateColor(n.state) : (opts.appColors.get(n.app) ?? "#999");
    const a = s("a", { href: opts.href(n.id), class: "dag-node", "data-task": n.id });
    const c = s("circle", {
      cx: px(p),
      cy: py(p),
      r: 7,
      fill,
      stroke: n.outside ? "#333" : "#fff",
      "stroke-width": n.outside ? 2 : 1,
      "stroke-dasharray": n.outside ? "2 2" : undefined,
    });
    c.append(svgTitle(`${n.app}:${n.id} (${n.state ?? "unknown"})${n.outside ? " — outside this window" : ""}`));
    a.append(c);
    nodeG.append(a);
  }
  svg.append(nodeG);
  const items =
    opts.colorBy === "states"
      ? STATE_ORDER.filter((st) => opts.nodes.some((n) => n.state === st)).map((st) => ({
          name: st,
          color: stateColor(st),
        }))
      : [...new Set(opts.nodes.map((n) => n.app))]
          .sort()
          .map((app) => ({ name: app, color: opts.appColors.get(app) ?? "#999" }));
  wrap.append(h("div", { class: "dag-scroll" }, svg), legend([...items, { name: "Dependency", color: "#aaa" }]));
  return wrap;
}

/** Aggregated graph: one box per app with its state mix; edges labelled with dependency counts. */
export function appDag(opts: {
  apps: AppNode[];
  edges: { from: string; to: string; count: number }[];
  appColors: Map<string, string>;
  href: (app: string) => string;
}): HTMLElement {
  const wrap = h("figure", { class: "chart-box" });
  if (opts.apps.length === 0) {
    wrap.append(h("p", { class: "empty" }, "No tasks."));
    return wrap;
  }
  const depth = layers(
    opts.apps.map((a) => a.name),
    opts.edges.map((e) => [e.from, e.to]),
  );
  // Apps linked by dependencies are layered first; apps without any go in rows below them, so no
  // edge has to pass behind an unrelated box.
  const linked = new Set(opts.edges.flatMap((e) => [e.from, e.to]));
  const byLayer = new Map<number, AppNode[]>();
  let maxDepth = 0;
  for (const a of opts.apps) if (linked.has(a.name)) maxDepth = Math.max(maxDepth, depth.get(a.name) ?? 0);
  for (const a of opts.apps) {
    const d = linked.has(a.name) ? (depth.get(a.name) ?? 0) : maxDepth + 1;
    if (!byLayer.has(d)) byLayer.set(d, []);
    byLayer.get(d)!.push(a);
  }
  const boxW = 170;
  const boxH = 50;
  const gapX = 24;
  const gapY = 46;
  const perRow = 6;
  const pos = new Map<string, { x: number; y: number }>();
  let row = 0;
  let widest = 1;
  for (const d of [...byLayer.keys()].sort((a, b) => a - b)) {
    const list = byLayer.get(d)!;
    for (let i = 0; i < list.length; i += perRow) {
      const chunk = list.slice(i, i + perRow);
      widest = Math.max(widest, chunk.length);
      chunk.forEach((a, j) => pos.set(a.name, { x: j - (chunk.length - 1) / 2, y: row }));
      row++;
    }
  }
  const W = Math.max(640, widest * (boxW + gapX) + 40);
  const H = row * (boxH + gapY) + 20;
  const cx = (p: { x: number }): number => W / 2 + p.x * (boxW + gapX);
  const cy = (p: { y: number }): number => 20 + p.y * (boxH + gapY) + boxH / 2;
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart dag",
    role: "img",
    "aria-label": "App graph",
    style: `max-width:${W}px`,
  });
  svg.append(
    s(
      "defs",
      {},
      s(
        "marker",
        {
          id: "arrow",
          viewBox: "0 0 10 10",
          refX: 10,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: "auto-start-reverse",
        },
        s("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#999" }),
      ),
    ),
  );
  // Spread the ends of edges that leave / enter the same box, so lines and their labels do not pile up.
  const outs = new Map<string, string[]>();
  const ins = new Map<string, string[]>();
  for (const e of opts.edges) {
    if (!outs.has(e.from)) outs.set(e.from, []);
    if (!ins.has(e.to)) ins.set(e.to, []);
    outs.get(e.from)!.push(e.to);
    ins.get(e.to)!.push(e.from);
  }
  const spread = (list: string[] | undefined, name: string): number => {
    if (!list || list.length < 2) return 0;
    const i = list.indexOf(name);
    return (i - (list.length - 1) / 2) * Math.min(24, (boxW - 20) / list.length);
  };
  for (const e of opts.edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = cx(a) + spread(outs.get(e.from), e.to);
    const y1 = cy(a) + boxH / 2;
    const x2 = cx(b) + spread(ins.get(e.to), e.from);
    const y2 = cy(b) - boxH / 2;
    const self = e.from === e.to;
    const path = self
      ? `M ${cx(a) + boxW / 2} ${cy(a) - 8} c 30 -10 30 26 0 16`
      : `M ${x1} ${y1} C ${x1} ${(y1 + y2) / 2} ${x2} ${(y1 + y2) / 2} ${x2} ${y2}`;
    const p = s("path", {
      d: path,
      class: "edge",
      "marker-end": "url(#arrow)",
      "stroke-width": Math.min(6, 1 + Math.log10(e.count + 1)),
    });
    p.append(svgTitle(`${e.from} → ${e.to}: ${e.count} dependencies`));
    svg.append(p);
    svg.append(
      s(
        "text",
        {
          x: self ? cx(a) + boxW / 2 + 26 : x1 + (x2 - x1) * 0.3 + 4,
          y: self ? cy(a) + 4 : y1 + (y2 - y1) * 0.3,
          class: "edge-label",
        },
        String(e.count),
      ),
    );
  }
  for (const a of opts.apps) {
    const p = pos.get(a.name)!;
    const x = cx(p) - boxW / 2;
    const y = cy(p) - boxH / 2;
    const link = s("a", { href: opts.href(a.name), class: "app-node" });
    link.append(
      s("rect", {
        x,
        y,
        width: boxW,
        height: boxH,
        rx: 6,
        fill: "#fff",
        stroke: opts.appColors.get(a.name) ?? "#999",
        "stroke-width": 2.5,
      }),
    );
    link.append(
      s("text", { x: x + 8, y: y + 18, class: "app-name" }, a.name.length > 22 ? a.name.slice(0, 21) + "…" : a.name),
    );
    link.append(s("text", { x: x + boxW - 8, y: y + 18, class: "app-count", "text-anchor": "end" }, String(a.count)));
    let off = 0;
    const order = [...STATE_ORDER, ...Object.keys(a.states).filter((k) => !STATE_ORDER.includes(k))];
    for (const st of order) {
      const n = a.states[st];
      if (!n) continue;
      const w = ((boxW - 16) * n) / a.count;
      const r = s("rect", { x: x + 8 + off, y: y + 28, width: Math.max(1, w), height: 12, fill: stateColor(st) });
      r.append(svgTitle(`${a.name}: ${n} ${st}`));
      link.append(r);
      off += w;
    }
    link.append(svgTitle(`${a.name}: ${a.count} tasks — click for the task list`));
    svg.append(link);
  }
  wrap.append(h("div", { class: "dag-scroll" }, svg));
  return wrap;
}

export function appColorMap(apps: string[]): Map<string, string> {
  const m = new Map<string, string>();
  [...apps].sort().forEach((a, i) => m.set(a, paletteColor(i)));
  return m;
}
