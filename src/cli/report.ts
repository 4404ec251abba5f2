/**
 * `parsl-ts report [RUN] -o report.html`: one self-contained HTML file for a run (src/report/).
 * Written to a temporary file next to the target and renamed, so a reader never sees half a report.
 */
import fs from "node:fs";
import path from "node:path";
import { gatherReport } from "../report/data.js";
import { renderReport } from "../report/html.js";
import { chooseRun, openQueryDb } from "./queryCommon.js";
import { CommandError, EXIT, parseArgs, UsageError } from "./args.js";

const USAGE = `usage: parsl-ts report [RUN] -o FILE [--db ENDPOINT] [--workflow NAME] [--verbose]

Writes one self-contained HTML file for a run (it opens from disk and loads nothing): summary,
per-app statistics and resource charts, a timeline of tasks, failures with their evidence and
the dependencies between apps. Huge runs are aggregated (a bounded sample of tasks for durations
and charts; counts stay exact). RUN is a run id, a unique prefix of one, or 'latest' (default).

  -o, --output FILE   where to write the report (required; '-' for stdout)
  --db ENDPOINT       the monitoring database (default $PARSL_TS_DB, else runinfo/monitoring.db)
  --workflow NAME     the latest run of this workflow
  --verbose           say how long each part took to read`;

export async function reportCommand(argv: string[]): Promise<number> {
  const p = parseArgs(
    argv,
    { db: "value", workflow: "value", output: "value", verbose: "flag", help: "flag" },
    { o: "output", h: "help" },
  );
  if (p.options.has("help")) {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (p.positionals.length > 1)
    throw new UsageError(`report takes one RUN, got ${p.positionals.length}: ${p.positionals.join(" ")}`);
  const output = p.options.get("output");
  if (output === undefined || output === true || output === "")
    throw new UsageError("-o FILE is required (where to write the report)");
  const workflow = p.options.get("workflow");
  if (workflow === true) throw new UsageError("--workflow needs a name");
  const db = await openQueryDb(p.options.get("db"), "parsl-ts report");
  try {
    const run = await chooseRun(db, p.positionals[0], workflow);
    const t0 = performance.now();
    const data = await gatherReport(db, run.run_id);
    const html = renderReport(data);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    if (output === "-") {
      process.stdout.write(html);
    } else {
      const target = path.resolve(output);
      const tmp = `${target}.${process.pid}.tmp`;
      try {
        fs.writeFileSync(tmp, html);
        fs.renameSync(tmp, target);
      } catch (e) {
        fs.rmSync(tmp, { force: true });
        throw new CommandError(`cannot write ${output}: ${(e as Error).message}`);
      }
      const kb = Buffer.byteLength(html) / 1024;
      console.error(
        `parsl-ts report: run ${run.run_id} (${data.summary.workflow.status}, ${data.summary.task_count.toLocaleString("en-US")} tasks) → ${output} (${kb < 1024 ? `${kb.toFixed(0)} KiB` : `${(kb / 1024).toFixed(1)} MiB`}, ${secs} s)`,
      );
    }
    if (p.options.has("verbose"))
      console.error(
        `parsl-ts report: read times (ms): ${Object.entries(data.timings)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}`,
      );
    return EXIT.ok;
  } finally {
    await db.close();
  }
}
