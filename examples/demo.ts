/**
 * The demo workflow: a small monitored run on the embedded SQLite database.
 *
 *   npm run demo
 *
 * Afterwards `runinfo/monitoring.db` holds the run: try `sqlite3 runinfo/monitoring.db`.
 */
import Database from "better-sqlite3";
import path from "node:path";
import {
  AUTO_LOGNAME,
  Config,
  MonitoringHub,
  ThreadPoolExecutor,
  bashApp,
  joinApp,
  load,
  tsApp,
  type TaskContext,
} from "../src/index.js";

// Apps. Bodies sent to worker threads are self-contained: they use only their arguments.
const square = tsApp(
  function square(x: number) {
    return x * x;
  },
  { cache: true },
);
const sum = tsApp(function sum(this: { inputs: number[] }) {
  return this.inputs.reduce((a, b) => a + b, 0);
});
const slow = tsApp(async function slowStep(ms: number, x: number) {
  await new Promise((r) => setTimeout(r, ms));
  return x + 1;
});
const flaky = tsApp(function flaky(this: TaskContext, tryOk: number) {
  // Fails until try number `tryOk` (the context tells the body which try it is).
  if (this.tryId < tryOk) throw new Error(`transient failure on try ${this.tryId}`);
  return "recovered";
});
const broken = tsApp(function broken(): number {
  throw new Error("this app always fails");
});
const uname = bashApp(function uname() {
  return "uname -a; echo 'hello from bash'";
});
const fanOut = joinApp(function fanOut(n: number) {
  const parts = [];
  for (let i = 0; i < n; i++) parts.push(square(i));
  return parts;
});

const config = new Config({
  executors: [new ThreadPoolExecutor({ label: "threads", maxThreads: 4 })],
  monitoring: new MonitoringHub({ workflowName: "demo", resourceMonitoringInterval: 1 }),
  retries: 1,
});

const dfk = await load(config);
console.log(`run ${dfk.runId} in ${dfk.runDir}`);

const squares = Array.from({ length: 20 }, (_, i) => square(i));
const total = sum.with({ inputs: squares })();
const chain = slow(50, slow(50, 1));
const joined = fanOut(5);
const shell = uname.with({ stdout: AUTO_LOGNAME, stderr: AUTO_LOGNAME })();
const recovered = flaky(1);
const failed = broken();
const skipped = square(failed); // depends on a failure: dep_fail

console.log("sum of squares 0..19 =", await total);
console.log("square(3) again      =", await square(3), "(a memo hit: square(3) has finished)");
console.log("slow chain           =", await chain);
console.log("join of 5 squares    =", await joined);
console.log("bash exit code       =", await shell);
console.log("flaky after retry    =", await recovered);
console.log(
  "broken               =",
  await failed.then(
    () => "ok",
    (e: Error) => `failed: ${e.message}`,
  ),
);
console.log(
  "depends on broken    =",
  await skipped.then(
    () => "ok",
    (e: Error) => `${e.name}`,
  ),
);

await dfk.cleanup();

const dbPath = path.resolve(config.runDir, "monitoring.db");
const db = new Database(dbPath, { readonly: true });
const wf = db
  .prepare(
    "SELECT workflow_name, run_status, tasks_completed_count, tasks_failed_count, time_began, time_completed FROM workflow WHERE run_id = ?",
  )
  .get(dfk.runId);
console.log("\nworkflow row:", wf);
console.log("tasks by latest status:");
for (const r of db
  .prepare("SELECT task_latest_status AS status, COUNT(*) AS n FROM task WHERE run_id = ? GROUP BY 1 ORDER BY 2 DESC")
  .all(dfk.runId))
  console.log("  ", r);
const rowsPerTable = ["task", "try", "status"].map(
  (t) => `${t}=${(db.prepare(`SELECT COUNT(*) AS n FROM "${t}" WHERE run_id = ?`).get(dfk.runId) as { n: number }).n}`,
);
console.log("rows:", rowsPerTable.join(" "));
db.close();
console.log(
  `\nexplore it: sqlite3 ${path.relative(process.cwd(), dbPath)} "SELECT task_id, task_status_name, timestamp FROM status ORDER BY timestamp"`,
);
