/**
 * `npm run bench`: every benchmark of the project, one after another in one process run, so
 * the figures share the machine's conditions. Results are printed and written to
 * `bench-results.json` (git-ignored). BENCHMARKS.md records measured figures.
 *
 *   npm run bench                       # everything
 *   npm run bench -- --quick            # smaller sizes (a smoke run, not for reporting)
 *   npm run bench -- --only core,writer
 */
import fs from "node:fs";
import { benchCore } from "./core.js";
import { benchWriter } from "./writer.js";
import { benchVisualizer } from "./visualizer.js";
import { benchHtex } from "./htex.js";
import { benchPostgres } from "./postgres.js";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const onlyIdx = argv.indexOf("--only");
const only = onlyIdx >= 0 ? new Set(argv[onlyIdx + 1]!.split(",")) : null;
const want = (name: string) => !only || only.has(name);
const print = (s: string) => console.log(s);
const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, quick };

if (want("core")) {
  print("== core: ThreadPoolExecutor, no-op tasks");
  results.core = await benchCore({ tasks: quick ? 20_000 : 100_000, million: quick ? 0 : 1_000_000, lockedTasks: quick ? 20_000 : 300_000, print });
}
if (want("writer")) {
  print("== writer: monitoring events → SQLite");
  const w = await benchWriter(quick ? 20_000 : 200_000);
  print(`writer: ${w.tasks} no-op tasks = ${w.rows} rows in ${w.seconds.toFixed(2)} s: ${w.rowsPerSecond.toFixed(0)} rows/s (${(w.rowsPerSecond / 7).toFixed(0)} tasks/s)`);
  results.writer = w;
}

if (want("visualizer")) {
  print("== visualizer: API and pages over a synthetic run");
  results.visualizer = await benchVisualizer({ tasks: quick ? 20_000 : 1_000_000, reps: quick ? 5 : 20, log: print });
}
if (want("htex")) {
  print("== htex: HighThroughputExecutor, one local block of 2 workers, through the kernel");
  results.htex = await benchHtex({ tasks: quick ? 5_000 : 20_000, print });
}

if (want("postgres")) {
  print("== postgres: monitored no-op tasks into PostgreSQL, end to end");
  results.postgres = await benchPostgres({ tasks: quick ? 20_000 : 100_000, rounds: quick ? 1 : 3, print });
}

fs.writeFileSync("bench-results.json", JSON.stringify(results, null, 2));
print("results written to bench-results.json");
