#!/usr/bin/env node
/**
 * Lists the folder-level import cycles of the compiled sources (dist/src): each folder under
 * src/ is one layer (a file directly in src/ is a layer of its own), and an import from a file
 * in layer A of a file in layer B is an edge A → B. Type-only imports are erased by tsc, so
 * this sees exactly what loads what at run time. Exits 1 when there is a cycle, printing each
 * strongly connected group of layers with the file imports that tie it together.
 *
 *   node scripts/folderCycles.mjs [distSrcDir]   (default: dist/src; run `npm run build` first)
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*["'](\.{1,2}\/[^"']+)["']|(?:^|[\s;])import\s*["'](\.{1,2}\/[^"']+)["']|\bimport\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g;

function* jsFiles(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* jsFiles(p);
    else if (e.name.endsWith(".js") || e.name.endsWith(".d.ts")) yield p;
  }
}

/** The layer of a file: its first folder under `root`, or the file's own name if it sits in `root`. */
function layerOf(root, file) {
  const rel = path.relative(root, file).split(path.sep);
  return rel.length === 1 ? rel[0].replace(/(\.d\.ts|\.js)$/, "") : rel[0];
}

/** Edges between layers, each with the file imports behind it: Map<from, Map<to, string[]>>. */
export function layerGraph(root) {
  const graph = new Map();
  for (const file of jsFiles(root)) {
    const from = layerOf(root, file);
    if (!graph.has(from)) graph.set(from, new Map());
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const target = path.resolve(path.dirname(file), spec);
      if (!target.startsWith(root + path.sep)) continue;
      const to = layerOf(root, target);
      if (to === from) continue;
      const edges = graph.get(from);
      if (!edges.has(to)) edges.set(to, []);
      edges.get(to).push(`${path.relative(root, file)} → ${path.relative(root, target)}`);
    }
  }
  return graph;
}

/** Strongly connected groups of more than one layer (Tarjan), each sorted; the groups sorted too. */
export function layerCycles(graph) {
  let index = 0;
  const idx = new Map(),
    low = new Map(),
    onStack = new Set(),
    stack = [],
    groups = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const g = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        g.push(w);
      } while (w !== v);
      if (g.length > 1) groups.push(g.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return groups.sort((a, b) => a[0].localeCompare(b[0]));
}

/** One readable paragraph per cycle group: the layers, then every edge inside the group. */
export function describeCycles(graph, groups) {
  return groups
    .map((g) => {
      const lines = [`cycle among: ${g.join(", ")}`];
      for (const a of g)
        for (const [b, why] of graph.get(a) ?? []) {
          if (g.includes(b))
            lines.push(
              `  ${a} → ${b}: ${why.slice(0, 3).join("; ")}${why.length > 3 ? ` (+${why.length - 3} more)` : ""}`,
            );
        }
      return lines.join("\n");
    })
    .join("\n");
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(process.argv[2] ?? "dist/src");
  const graph = layerGraph(root);
  const groups = layerCycles(graph);
  if (groups.length === 0) {
    console.log(`no folder-level import cycles among ${graph.size} layers of ${root}`);
  } else {
    console.log(describeCycles(graph, groups));
    process.exitCode = 1;
  }
}
