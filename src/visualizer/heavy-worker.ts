/** Worker-thread side of heavy.ts: a read-only reader answering one aggregate request at a time. */
import { parentPort, workerData } from "node:worker_threads";
import { SqliteReader } from "./sqlite-reader.js";
import type { HeavyMethod } from "./heavy.js";

const reader = new SqliteReader((workerData as { path: string }).path);
const METHODS: ReadonlySet<string> = new Set<HeavyMethod>(["triesOverTime", "resources", "appHistory", "dagSummary"]);

parentPort!.on("message", (m: { id: number; method: string; runId: string }) => {
  try {
    if (!METHODS.has(m.method) || typeof m.runId !== "string") throw new Error(`unknown aggregate ${String(m.method)}`);
    const value = reader[m.method as HeavyMethod](m.runId);
    parentPort!.postMessage({ id: m.id, ok: true, value });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) });
  }
});
