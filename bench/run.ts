/**
 * `npm run bench`: every benchmark of the project, one after another in one process run, so
 * the figures share the machine's conditions. Results are printed and written to
 * `bench-results.json` (git-ignored). BENCHMARKS.md records measured figures.
 *
 *   npm run bench                       # everything
 *   npm run bench -- --quick            # smaller sizes (a smoke run, not for reporting)
 *   npm run bench -- --only core,writer   (sections: core, writer, pgwriter, visualizer, visualizer-pg, query, export, stats, stats-pg, htex, htex-scale, postgres, report)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { benchCore } from "./core.js";
import { benchWriter } from "./writer.js";
import { benchVisualizer } from "./visualizer.js";
import { benchPgAdminUrl } from "./pgServer.js";
import { benchHtex } from "./htex.js";
import { benchHtexScale } from "./htexScale.js";
import { benchExport } from "./export.js";
import { benchPostgres } from "./postgres.js";
import { benchIngest, benchStatusRows } from "./pgWriter.js";
import { benchQuery } from "./query.js";
import { benchProgress, benchReport } from "./watchReport.js";
import { benchStatsAnalyze } from "./statsAnalyze.js";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const onlyIdx = argv.indexOf("--only");
const only = onlyIdx >= 0 ? new Set(argv[onlyIdx + 1]!.split(",")) : null;
const want = (name: string) => !only || only.has(name);
const print = (s: string) => console.log(s);
const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, quick };

if (want("core")) {
  print("== core: ThreadPoolExecutor, no-op tasks");
  results.core = await benchCore({
    tasks: quick ? 20_000 : 100_000,
    million: quick ? 0 : 1_000_000,
    lockedTasks: quick ? 20_000 : 300_000,
    print,
  });
}
if (want("writer")) {
  print("== writer: monitoring events → SQLite");
  const w = await benchWriter(quick ? 20_000 : 200_000);
  print(
    `writer: ${w.tasks} no-op tasks = ${w.rows} rows in ${w.seconds.toFixed(2)} s: ${w.rowsPerSecond.toFixed(0)} rows/s (${(w.rowsPerSecond / 7).toFixed(0)} tasks/s)`,
  );
  results.writer = w;
}
if (want("pgwriter")) {
  print(
    "== pgwriter: monitoring into PostgreSQL (the server of scripts/postgres/start-server.sh, or PARSL_TS_TEST_PG)",
  );
  const base = benchPgAdminUrl();
  const ingestTasks = quick ? 10_000 : 50_000;
  const ingest = [];
  for (const method of ["unnest", "values"] as const) {
    const r = await benchIngest(base, method, ingestTasks);
    print(
      `pgwriter ingest ${r.method}: ${Math.round(r.rowsPerSecond)} rows/s, ${r.microsPerTask.toFixed(1)} µs/task of writer time`,
    );
    ingest.push(r);
  }
  const statusRows = await benchStatusRows(base, ingestTasks);
  print(
    `pgwriter status rows, µs/row: UNNEST ${statusRows.unnest.toFixed(1)}, VALUES ${statusRows.values.toFixed(1)}, COPY ${statusRows.copy.toFixed(1)}`,
  );
  results.pgwriter = { ingest, statusRows }; // the end-to-end figure is the "postgres" section
}

if (want("visualizer") || want("visualizer-pg")) {
  // One synthetic SQLite database for both dialects: the PostgreSQL run copies it (database/copy.ts)
  // into parsl_bench_viz_<tasks> on scripts/postgres/start-server.sh's server, or reuses that database.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "viz-bench-"));
  try {
    const tasks = quick ? 20_000 : 1_000_000;
    const reps = quick ? 5 : 20;
    print("== visualizer: API and pages over a synthetic run (SQLite)");
    const sqlite = await benchVisualizer({
      tasks,
      reps,
      keepDir: dir,
      log: print,
      ...(want("visualizer") ? {} : { noPages: true }),
    });
    if (want("visualizer")) results.visualizer = sqlite;
    if (want("visualizer-pg")) {
      print("== visualizer: API and pages over the same runs in PostgreSQL");
      results.visualizerPg = await benchVisualizer({
        tasks,
        reps,
        db: path.join(dir, "monitoring.db"),
        pg: benchPgAdminUrl(),
        log: print,
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
if (want("export")) {
  print("== export: parsl-ts export of a synthetic run, each format in its own process (time, peak RSS)");
  results.export = await benchExport({ tasks: quick ? 20_000 : 1_000_000, print });
}
if (want("query")) {
  print(
    "== query: parsl-ts runs / tasks and parsl-ts/query on a synthetic run (SQLite, then the same rows in PostgreSQL)",
  );
  results.query = await benchQuery({
    tasks: quick ? 20_000 : 1_000_000,
    reps: quick ? 3 : 9,
    pg: benchPgAdminUrl(),
    log: print,
  });
}
if (want("stats") || want("stats-pg")) {
  // One synthetic SQLite run for both dialects (the PostgreSQL copy is parsl_bench_queries_<tasks>, reused when present).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stats-bench-"));
  try {
    const tasks = quick ? 20_000 : 1_000_000;
    const { createSyntheticDb } = await import("./visualizer.js");
    const file = path.join(dir, "monitoring.db");
    createSyntheticDb(file, { tasks });
    if (want("stats")) {
      print("== stats / analyze over a synthetic run (SQLite)");
      results.stats = await benchStatsAnalyze({ tasks, db: file, reps: quick ? 3 : 7, log: print });
    }
    if (want("stats-pg")) {
      print("== stats / analyze over the same run in PostgreSQL");
      results.statsPg = await benchStatsAnalyze({
        tasks,
        db: file,
        reps: quick ? 3 : 7,
        pg: benchPgAdminUrl(),
        log: print,
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
if (want("htex")) {
  print("== htex: HighThroughputExecutor, one local block of 2 workers, through the kernel");
  results.htex = await benchHtex({ tasks: quick ? 5_000 : 20_000, print });
}
if (want("htex-scale")) {
  print(
    "== htex-scale: N simulated pools (the real pool protocol, many per process) on one interchange, through the kernel, monitoring on",
  );
  results.htexScale = await benchHtexScale({
    print,
    ...(quick
      ? {
          points: [
            { pools: 10, workersPerPool: 8, tasks: 10_000 },
            { pools: 100, workersPerPool: 16, tasks: 20_000 },
          ],
        }
      : {}),
  });
}

if (want("postgres")) {
  print("== postgres: monitored no-op tasks into PostgreSQL, end to end");
  results.postgres = await benchPostgres({ tasks: quick ? 20_000 : 100_000, rounds: quick ? 1 : 3, print });
}

if (want("report")) {
  print("== report and watch over a synthetic run (SQLite); Config.progress on no-op tasks");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "report-bench-"));
  try {
    results.report = await benchReport({ tasks: quick ? 20_000 : 1_000_000, keepDir: dir, log: print });
    results.progress = await benchProgress(quick ? 10_000 : 50_000, 3, print);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

fs.writeFileSync("bench-results.json", JSON.stringify(results, null, 2));
print("results written to bench-results.json");
