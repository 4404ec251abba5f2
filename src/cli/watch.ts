/**
 * `parsl-ts watch [RUN]`: follows a run live until it ends. Polls the database's change token
 * every 250 ms (one cheap statement) and re-reads the per-app counts and latest failures only
 * when the token moved; the run's status (the one rule, judgeRun) and the clock, rate and ETA are
 * refreshed every second. On a terminal the view is redrawn in place; otherwise one plain line is
 * printed per change. Exit status: 0 when the run completed, 1 when it ended any other way
 * (failed, interrupted, crashed, unknown), 2 on usage errors.
 */
import type { MonitoringDb } from "../database/queries/index.js";
import { LiveView } from "../progress/live.js";
import { bucketOf, RateMeter, type AppProgress, type ProgressSnapshot } from "../progress/render.js";
import { chooseRun, openQueryDb } from "./queryCommon.js";
import { EXIT, numberOption, parseArgs, UsageError } from "./args.js";

const USAGE = `usage: parsl-ts watch [RUN] [--db ENDPOINT] [--workflow NAME] [--interval SECONDS] [--plain]

Follows a run live until it ends: per-app progress bars (pending / launched / running / done /
failed), rate, ETA and the latest failures. RUN is a run id, a unique prefix of one, or 'latest'
(the default). On a terminal the view is redrawn in place; otherwise (or with --plain) one line is
printed per change. Exits 0 when the run completed, 1 when it failed or ended otherwise.

  --db ENDPOINT       the monitoring database (default $PARSL_TS_DB, else runinfo/monitoring.db)
  --workflow NAME     the latest run of this workflow
  --interval SECONDS  refresh the status, clock and ETA this often (0.1 to 1; default 1)
  --plain             one line per change even on a terminal`;

const POLL_MS = 250;
const FAILURES = 3;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Per-app buckets from the database's (app, state, count) rows. */
export function toAppProgress(rows: readonly { app: string; state: string | null; n: number }[]): AppProgress[] {
  const apps = new Map<string, AppProgress>();
  for (const r of rows) {
    let a = apps.get(r.app);
    if (!a) apps.set(r.app, (a = { name: r.app, pending: 0, launched: 0, running: 0, done: 0, failed: 0 }));
    a[bucketOf(r.state)] += r.n;
  }
  return [...apps.values()];
}

export async function watchCommand(argv: string[]): Promise<number> {
  const p = parseArgs(
    argv,
    { db: "value", workflow: "value", interval: "value", plain: "flag", help: "flag" },
    { h: "help" },
  );
  if (p.options.has("help")) {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (p.positionals.length > 1)
    throw new UsageError(`watch takes one RUN, got ${p.positionals.length}: ${p.positionals.join(" ")}`);
  const intervalMs =
    numberOption(p, "interval", 1, (n) => n >= 0.1 && n <= 1, "a number of seconds from 0.1 to 1") * 1000;
  const workflow = p.options.get("workflow");
  if (workflow === true) throw new UsageError("--workflow needs a name");
  const db = await openQueryDb(p.options.get("db"), "parsl-ts watch", true);
  try {
    const run = await chooseRun(db, p.positionals[0], workflow);
    return await follow(db, run.run_id, run.workflow_name, intervalMs, p.options.has("plain"));
  } finally {
    await db.close();
  }
}

async function follow(
  db: MonitoringDb,
  runId: string,
  name: string | null,
  intervalMs: number,
  plain: boolean,
): Promise<number> {
  const view = new LiveView(process.stdout, plain ? { tty: false } : {});
  const title = `run ${runId.slice(0, 8)}${name ? ` (${name})` : ""}`;
  // Ctrl-C: the cursor back and the prompt on a fresh line.
  const onSignal = (): void => {
    view.close();
    if (view.tty) process.stdout.write("\n");
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const meter = new RateMeter();
  let token = "";
  let apps: AppProgress[] = [];
  let failures: ProgressSnapshot["failures"] = [];
  let lastRefresh = 0;
  try {
    for (;;) {
      const now = Date.now();
      const next = await db.changeToken();
      const changed = next !== token;
      if (changed || now - lastRefresh >= intervalMs) {
        // The token is read before the data: a change during the reads is seen on the next poll.
        token = next;
        lastRefresh = now;
        const status = await db.runStatus(runId);
        if (changed) {
          apps = toAppProgress(await db.appStateCounts(runId));
          failures = (await db.latestFailures(runId, FAILURES)).map((f) => ({
            task_id: f.task_id,
            app: f.app,
            error: f.error,
          }));
        }
        let finished = 0;
        for (const a of apps) finished += a.done + a.failed;
        meter.add(now, finished);
        view.update({
          title,
          status: status.status,
          elapsed_s: status.runtime_s ?? 0,
          apps,
          failures,
          rate: meter.rate(),
        });
        if (status.status !== "running") return status.status === "completed" ? EXIT.ok : EXIT.failed;
      }
      await sleep(POLL_MS);
    }
  } finally {
    view.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
