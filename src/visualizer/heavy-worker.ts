/** Worker-thread side of heavy.ts (SQLite): a read-only MonitoringDb answering one aggregate request at a time. */
import { parentPort, workerData } from "node:worker_threads";
import { openMonitoringDb } from "../database/queries/index.js";
import type { HeavyMethod } from "./heavy.js";

const METHODS: ReadonlySet<string> = new Set<HeavyMethod>(["triesOverTime", "resources", "appHistory", "dagSummary"]);
const opened = openMonitoringDb(
  { kind: "sqlite", path: (workerData as { path: string }).path },
  { applicationName: "parsl-ts visualize (aggregates)" },
);
opened.catch(() => undefined); // reported per request below

parentPort!.on("message", (m: { id: number; method: string; runId: string }) => {
  void (async () => {
    try {
      if (!METHODS.has(m.method) || typeof m.runId !== "string")
        throw new Error(`unknown aggregate ${String(m.method)}`);
      const db = await opened;
      const value = await db[m.method as HeavyMethod](m.runId);
      parentPort!.postMessage({ id: m.id, ok: true, value });
    } catch (e) {
      parentPort!.postMessage({ id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  })();
});
