/**
 * The query commands on a 1,000,000-task run (issue 11: `runs` ≤ 1 s, `tasks` first page ≤ 200 ms):
 * in process (open + query, as parsl-ts/query users see it) and as real `parsl-ts` processes
 * (wall time, and time to the first byte of output for an unlimited `tasks`).
 * SQLite: the synthetic database of bench/visualizer.ts; PostgreSQL: the same rows, in the
 * database parsl_bench_viz_<tasks> that the visualizer bench fills (copied here when absent).
 *
 *   node dist/bench/query.js [--tasks N] [--db FILE] [--pg ADMIN_URL]
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { copyDatabase } from "../src/database/copy.js";
import { openMonitoringDb } from "../src/query/index.js";
import { createSyntheticDb } from "./visualizer.js";
import { benchPgAdminUrl, ensureBenchDatabase } from "./pgServer.js";
import { cliTime } from "./cliStart.js";

export interface QueryBenchOptions {
  tasks?: number;
  /** An existing synthetic SQLite file (else one is generated in a temp dir). */
  db?: string;
  /** PostgreSQL admin URL: also measure there. */
  pg?: string;
  reps?: number;
  log?: (line: string) => void;
}

export interface QueryTiming {
  name: string;
  median_ms: number;
  max_ms: number;
}

async function time(name: string, reps: number, fn: () => Promise<unknown>): Promise<QueryTiming> {
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { name, median_ms: ms[Math.floor(ms.length / 2)]!, max_ms: ms[ms.length - 1]! };
}

async function measure(
  endpoint: string,
  label: string,
  reps: number,
  log: (l: string) => void,
): Promise<QueryTiming[]> {
  const out: QueryTiming[] = [];
  const db = await openMonitoringDb(endpoint);
  const runId = (await db.runs({ workflow: "synthetic" })).sort((a, b) => b.tasks.total - a.tasks.total)[0]!.run_id;
  // The first page: 100 rows (or all there are), however many windows it takes.
  const first = (q: Parameters<typeof db.taskPages>[0]) => async () => {
    let n = 0;
    for await (const page of db.taskPages(q)) if ((n += page.length) >= 100) break;
  };
  const cases: [string, () => Promise<unknown>][] = [
    ["api runs (all runs, statuses, tasks per state)", () => db.runs()],
    [
      "api tasks: first page (default fields)",
      first({
        run: runId,
        fields: ["task_id", "app", "state", "tries", "executor", "host", "invoked", "run_s", "total_s"],
      }),
    ],
    [
      'api tasks: first page, -F "state = failed"',
      first({ run: runId, fields: ["task_id", "app", "state", "error"], filter: "state = failed" }),
    ],
    [
      'api tasks: first page, -F "app = simulate and run_s > 20"',
      first({ run: runId, fields: ["task_id", "run_s"], filter: "app = simulate and run_s > 20" }),
    ],
    [
      "api tasks: first page, --tries with mem_peak, cpu_s, job_id",
      first({ run: runId, tries: true, fields: ["task_id", "try_id", "mem_peak", "cpu_s", "job_id"] }),
    ],
    [
      'api tasks --all-runs -F "hashsum = H"',
      first({ allRuns: true, fields: ["run_id", "task_id", "state", "memo"], filter: "hashsum = 0123456789abcdef" }),
    ],
  ];
  for (const [name, fn] of cases) {
    await fn(); // warm: the first call reads the schema facts and file pages
    const t = await time(`${label} ${name}`, reps, fn);
    out.push(t);
    log(`${t.name}: median ${t.median_ms.toFixed(1)} ms, max ${t.max_ms.toFixed(1)} ms`);
  }
  await db.close();
  const procs: [string, string[], boolean][] = [
    ["cli parsl-ts runs (process wall time)", ["runs", "--db", endpoint], false],
    ["cli parsl-ts tasks --limit 100 (process wall time)", ["tasks", runId, "--db", endpoint, "--limit", "100"], false],
    ["cli parsl-ts tasks (unlimited: time to first output)", ["tasks", runId, "--db", endpoint], true],
    // A small run beside the big one: finding its ends must not walk the big run's ids.
    [
      "cli parsl-ts tasks of the 2,000-task run beside it (time to first output)",
      ["tasks", "bench-small-previous", "--db", endpoint],
      true,
    ],
    [
      'cli parsl-ts tasks -F "state = failed" (time to first output)',
      ["tasks", runId, "--db", endpoint, "-F", "state = failed"],
      true,
    ],
  ];
  for (const [name, args, fb] of procs) {
    await cliTime(args, { firstByte: fb });
    const t = await time(`${label} ${name}`, Math.max(3, Math.floor(reps / 3)), () => cliTime(args, { firstByte: fb }));
    out.push(t);
    log(`${t.name}: median ${t.median_ms.toFixed(1)} ms, max ${t.max_ms.toFixed(1)} ms`);
  }
  const node = await time(
    `${label} node startup alone (node -e 0)`,
    3,
    () => new Promise((res) => spawn(process.execPath, ["-e", "0"]).on("close", res)),
  );
  log(`${node.name}: median ${node.median_ms.toFixed(1)} ms`);
  out.push(node);
  // A machine may make every Node process load extra certificates at start (tens of ms here).
  if (process.env["NODE_EXTRA_CA_CERTS"]) {
    const env = { ...process.env };
    delete env["NODE_EXTRA_CA_CERTS"];
    const bare = await time(
      `${label} node startup alone without NODE_EXTRA_CA_CERTS`,
      3,
      () => new Promise((res) => spawn(process.execPath, ["-e", "0"], { env }).on("close", res)),
    );
    log(
      `${bare.name}: median ${bare.median_ms.toFixed(1)} ms (NODE_EXTRA_CA_CERTS is set here; each process above paid for it)`,
    );
    out.push(bare);
  }
  return out;
}

export async function benchQuery(
  opts: QueryBenchOptions = {},
): Promise<{ sqlite: QueryTiming[]; postgresql: QueryTiming[] | null }> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const tasks = opts.tasks ?? 1_000_000;
  const reps = opts.reps ?? 9;
  let dir: string | null = null;
  let file = opts.db;
  if (!file) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "query-bench-"));
    file = path.join(dir, "monitoring.db");
    log(`generating ${tasks.toLocaleString("en-US")} tasks into ${file} …`);
    createSyntheticDb(file, { tasks, workflowName: "synthetic" });
    createSyntheticDb(file, { tasks: Math.min(2000, tasks), workflowName: "synthetic", runId: "bench-small-previous" });
  }
  try {
    const sqlite = await measure(file, "sqlite", reps, log);
    let postgresql: QueryTiming[] | null = null;
    if (opts.pg) {
      const name = `parsl_bench_viz_${tasks}`; // shared with the visualizer bench: same rows
      const { url, created } = await ensureBenchDatabase(opts.pg, name);
      const admin = new URL(url);
      const exists = !created;
      if (!exists) {
        log(`copying into ${name} …`);
        await copyDatabase(file, admin.toString(), {});
        const c2 = new pg.Client({ connectionString: admin.toString() });
        await c2.connect();
        await c2.query("VACUUM ANALYZE");
        await c2.end();
      }
      postgresql = await measure(admin.toString(), "postgresql", reps, log);
    }
    return { sqlite, postgresql };
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const get = (n: string): string | undefined => {
    const i = args.indexOf(n);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const tasks = Number(get("--tasks") ?? 1_000_000);
  const pgUrl = args.includes("--pg") ? (get("--pg") ?? benchPgAdminUrl()) : undefined;
  await benchQuery({ tasks, ...(get("--db") ? { db: get("--db")! } : {}), ...(pgUrl ? { pg: pgUrl } : {}) });
}
