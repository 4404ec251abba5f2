/**
 * The layers stack: no folder of src/ imports (directly or through others) a folder that imports
 * it back. Checked on the compiled output (dist/src: runtime imports in .js, type imports in
 * .d.ts) with scripts/folderCycles.mjs, the same script CI runs.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { tempDir } from "./helpers.js";

type Graph = Map<string, Map<string, string[]>>;
interface CycleScript {
  layerGraph: (root: string) => Graph;
  layerCycles: (graph: Graph) => string[][];
  describeCycles: (graph: Graph, groups: string[][]) => string;
}

const distSrc = fileURLToPath(new URL("../src", import.meta.url));
const script = path.resolve(distSrc, "..", "..", "scripts", "folderCycles.mjs");
const load = async (): Promise<CycleScript> => (await import(pathToFileURL(script).href)) as CycleScript;

test("no folder-level import cycle in src/", async () => {
  const { layerGraph, layerCycles, describeCycles } = await load();
  const graph = layerGraph(distSrc);
  assert.ok(graph.has("dataflow") && graph.has("apps") && graph.has("vocabulary"), "dist/src has the layers (built?)");
  const cycles = layerCycles(graph);
  assert.deepEqual(cycles, [], describeCycles(graph, cycles));
});

test("the shared vocabulary is a leaf: it imports nothing of ours", async () => {
  const { layerGraph } = await load();
  const graph = layerGraph(distSrc);
  assert.deepEqual([...(graph.get("vocabulary")?.keys() ?? [])], []);
});

test("the cycle check finds a cycle through three folders and names the imports", async () => {
  const { layerGraph, layerCycles, describeCycles } = await load();
  const root = path.join(tempDir(), "src");
  const write = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  };
  write("a/x.js", 'import { y } from "../b/y.js";\nexport const x = 1;\n');
  write("b/y.js", 'export { z } from "../c/z.js";\nexport const y = 2;\n');
  write("c/z.d.ts", 'import type { x } from "../a/x.js";\nexport declare const z: number;\n');
  write("c/z.js", "export const z = 3;\n");
  write("d/w.js", 'const m = await import("../a/x.js");\n'); // d → a only: not in the cycle
  const graph = layerGraph(root);
  const cycles = layerCycles(graph);
  assert.deepEqual(cycles, [["a", "b", "c"]]);
  assert.match(describeCycles(graph, cycles), /c → a: c\/z\.d\.ts → a\/x\.js/);
});
